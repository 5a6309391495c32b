-- The PostgreSQL role the sync runs as, with exactly the privileges it needs. NOT a migration: an
-- administrator runs it once per warehouse database (again at will: it is idempotent), as a
-- superuser or, on Supabase, as the `postgres` user (SQL Editor, or psql):
--
--     psql "$ADMIN_DATABASE_URL" -v ON_ERROR_STOP=1 -f include/sql/roles/least_privilege.sql
--
-- What the role `ploomes_sync` (a group role: it cannot log in) gets, and why:
--   CONNECT on this database ........ to open sessions in it;
--   owner of schema ploomes_sync .... the migrations create the staging, run-history, watermark,
--                                     rejects and archive tables there, and comment on the schema;
--   USAGE, CREATE on schema public .. the migrations create public.sales, public.customers,
--                                     public.customer_sales and the price-history tables and view
--                                     (owned by the role, row-level security on); the loads
--                                     upsert into them and delete from them;
--   owner of what the sync keeps .... everything in schema ploomes_sync (tables, views, sequences,
--                                     functions) and the objects of public the contract names
--                                     (ploomes_sync.public_objects lists those that exist; on a fresh
--                                     database, the older sales, customers and customer_sales when
--                                     there): the migrations create and alter them, which only an
--                                     owner may do. So an install made as postgres (or any admin)
--                                     is handed over whole, and the connection's login can switch.
-- Nothing else: not SUPERUSER, CREATEDB, CREATEROLE, REPLICATION nor BYPASSRLS; no CREATE on the
-- database (it creates no schema); no privilege on any other table, schema or function.
--
-- Then create the login the Airflow connection `sales_db` uses, a member of the role whose
-- sessions act as the role (so whatever it creates is owned by `ploomes_sync`, and a later login
-- can take over). In psql, with the password typed at the prompt, never written in a file:
--
--     CREATE ROLE ploomes_sync_app LOGIN IN ROLE ploomes_sync;
--     ALTER ROLE ploomes_sync_app SET role = 'ploomes_sync';
--     \password ploomes_sync_app
--
-- To rotate it, create ploomes_sync_app2 the same way, switch the connection, then
-- DROP ROLE ploomes_sync_app.

DO $$
DECLARE
    r pg_catalog.pg_roles%ROWTYPE;
BEGIN
    SELECT * INTO r FROM pg_catalog.pg_roles WHERE rolname = 'ploomes_sync';
    IF NOT FOUND THEN
        CREATE ROLE ploomes_sync NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS INHERIT;
    ELSIF r.rolsuper OR r.rolcreatedb OR r.rolcreaterole OR r.rolreplication OR r.rolbypassrls OR r.rolcanlogin THEN
        RAISE EXCEPTION 'role ploomes_sync exists with more than it needs (login, superuser, createdb, '
                        'createrole, replication or bypassrls)'
            USING HINT = 'ALTER ROLE ploomes_sync NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION '
                         'NOBYPASSRLS; then run this script again.';
    END IF;
    -- A non-superuser administrator (Supabase's postgres) must be a member of the role to give it
    -- the schema and the tables below.
    IF NOT (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user)
       AND NOT pg_catalog.pg_has_role(current_user, 'ploomes_sync', 'MEMBER') THEN
        EXECUTE format('GRANT ploomes_sync TO %I', current_user);
    END IF;
END
$$;

DO $$
BEGIN
    EXECUTE format('GRANT CONNECT ON DATABASE %I TO ploomes_sync', current_database());
END
$$;

CREATE SCHEMA IF NOT EXISTS ploomes_sync AUTHORIZATION ploomes_sync;
ALTER SCHEMA ploomes_sync OWNER TO ploomes_sync;

GRANT USAGE ON SCHEMA public TO ploomes_sync;
GRANT CREATE ON SCHEMA public TO ploomes_sync;

-- Everything the sync keeps, handed over (ALTER ... OWNER needs the current owner's rights: run this
-- as the role that ran the sync's migrations until now, or as a member of it).
DO $$
DECLARE
    r       record;
    v_names text[] := ARRAY['sales', 'customers', 'customer_sales'];  -- older tables, before any migration
    v_more  text[];
BEGIN
    IF to_regclass('ploomes_sync.public_objects') IS NOT NULL THEN  -- (planned only when it exists)
        SELECT array_agg(o.name) INTO v_more FROM ploomes_sync.public_objects AS o;
        v_names := v_names || coalesce(v_more, '{}');
    END IF;
    FOR r IN
        SELECT n.nspname, c.relname, c.relkind
        FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'ploomes_sync' AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
          AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d  -- a column's sequence follows its table
                          WHERE d.classid = 'pg_catalog.pg_class'::regclass AND d.objid = c.oid AND d.deptype IN ('a', 'i'))
    LOOP
        EXECUTE format('ALTER %s %I.%I OWNER TO ploomes_sync',
                       CASE r.relkind WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW' WHEN 'S' THEN 'SEQUENCE'
                                      WHEN 'f' THEN 'FOREIGN TABLE' ELSE 'TABLE' END, r.nspname, r.relname);
    END LOOP;
    FOR r IN
        SELECT p.proname, pg_catalog.pg_get_function_identity_arguments(p.oid) AS arguments
        FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
        WHERE n.nspname = 'ploomes_sync'
    LOOP
        EXECUTE format('ALTER ROUTINE ploomes_sync.%I(%s) OWNER TO ploomes_sync', r.proname, r.arguments);
    END LOOP;
    FOR r IN
        SELECT c.relname, c.relkind
        FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v', 'm') AND c.relname = ANY (v_names)
    LOOP
        EXECUTE format('ALTER %s public.%I OWNER TO ploomes_sync',
                       CASE r.relkind WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW' ELSE 'TABLE' END, r.relname);
    END LOOP;
END
$$;

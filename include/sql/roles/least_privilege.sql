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
--   owner of those three tables ..... when they exist already (made by an older tool), the
--                                     migrations conform them in place (ALTER TABLE), which only an
--                                     owner may do: this script hands them over.
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

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['sales', 'customers', 'customer_sales'] LOOP
        IF to_regclass(format('public.%I', t)) IS NOT NULL THEN
            EXECUTE format('ALTER TABLE public.%I OWNER TO ploomes_sync', t);
        END IF;
    END LOOP;
END
$$;

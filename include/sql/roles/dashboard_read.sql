-- Let the dashboard read what the sync writes, and nothing more. NOT a migration: the project's
-- administrator runs it after the sync's first run (again at will: it is idempotent), as the role
-- that owns the sync's objects (Supabase's postgres, or a member of ploomes_sync), naming the role
-- (or roles) the dashboard reads as: Supabase's authenticated (a signed-in user), anon (anyone with
-- the public key) or service_role (a server; it bypasses row-level security).
--
--     psql "$ADMIN_DATABASE_URL" -v ON_ERROR_STOP=1 \
--          -c "SET ploomes_sync.dashboard_roles = 'authenticated'" -f include/sql/roles/dashboard_read.sql
--
-- (Supabase's SQL Editor: the SET line, then this file's text.) For each object of public the sync
-- keeps (ploomes_sync.public_objects):
--   made by the sync .... Supabase's API roles (anon, authenticated, service_role) hold exactly
--                         SELECT when named, nothing otherwise (its defaults gave them everything);
--   older ones .......... the named roles get SELECT; nothing is taken from anyone;
--   tables with row-level security on: for each named role that does not bypass it and has no
--                         permissive SELECT policy there yet, the policy ploomes_sync_read_<role>
--                         (FOR SELECT TO the role USING (true): every row). Replace it with your
--                         own (by customer, with auth.uid()): create yours, drop ours; a run of
--                         this script does not add it back beside yours.
-- The view customer_price_history reads its tables as the reader (security_invoker): their
-- grants and policies apply to it.

DO $$
DECLARE
    v_setting text := current_setting('ploomes_sync.dashboard_roles', true);
    v_roles   text[];
    v_role    text;
    v_api     text;
    r         record;
BEGIN
    IF v_setting IS NULL OR btrim(v_setting) = '' THEN
        RAISE EXCEPTION 'ploomes_sync: name the role the dashboard reads as first'
            USING HINT = 'SET ploomes_sync.dashboard_roles = ''authenticated''; (or anon, service_role, or several '
                         'separated by commas), then run this script again in the same session.';
    END IF;
    IF to_regclass('ploomes_sync.public_objects') IS NULL THEN
        RAISE EXCEPTION 'ploomes_sync: the sync has not run on this database yet'
            USING HINT = 'Trigger the DAG ploomes_sales_sync once (its first task creates the tables), then run this again.';
    END IF;
    SELECT array_agg(btrim(part)) INTO v_roles FROM unnest(string_to_array(v_setting, ',')) AS part WHERE btrim(part) <> '';
    FOREACH v_role IN ARRAY v_roles LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = v_role) THEN
            RAISE EXCEPTION 'ploomes_sync: role % does not exist', v_role
                USING HINT = 'On Supabase the API roles are anon, authenticated and service_role.';
        END IF;
        EXECUTE format('GRANT USAGE ON SCHEMA public TO %I', v_role);
    END LOOP;

    FOR r IN
        SELECT o.name, o.created, c.oid::regclass AS rel, c.relkind, c.relrowsecurity
        FROM ploomes_sync.public_objects o
        JOIN pg_catalog.pg_class c ON c.oid = to_regclass(format('public.%I', o.name))
        ORDER BY o.name
    LOOP
        IF r.created THEN  -- what Supabase's defaults gave the API roles goes; the named ones read
            FOREACH v_api IN ARRAY ARRAY['anon', 'authenticated', 'service_role'] LOOP
                IF EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = v_api) AND NOT v_api = ANY (v_roles) THEN
                    EXECUTE format('REVOKE ALL ON %s FROM %I', r.rel, v_api);
                END IF;
            END LOOP;
        END IF;
        FOREACH v_role IN ARRAY v_roles LOOP
            IF r.created THEN
                EXECUTE format('REVOKE ALL ON %s FROM %I', r.rel, v_role);
            END IF;
            EXECUTE format('GRANT SELECT ON %s TO %I', r.rel, v_role);
            IF r.relkind IN ('r', 'p') AND r.relrowsecurity
               AND NOT (SELECT rolbypassrls FROM pg_catalog.pg_roles WHERE rolname = v_role)
               AND NOT EXISTS (
                   SELECT 1 FROM pg_catalog.pg_policy p
                   WHERE p.polrelid = r.rel AND p.polpermissive AND p.polcmd IN ('r', '*')
                     AND (p.polroles = ARRAY[0::oid]
                          OR (SELECT oid FROM pg_catalog.pg_roles WHERE rolname = v_role) = ANY (p.polroles)))
            THEN
                EXECUTE format('CREATE POLICY %I ON %s FOR SELECT TO %I USING (true)', 'ploomes_sync_read_' || v_role,
                               r.rel, v_role);
                EXECUTE format('COMMENT ON POLICY %I ON %s IS ''Every row to the dashboard: replace it''',
                               'ploomes_sync_read_' || v_role, r.rel);
            END IF;
        END LOOP;
    END LOOP;
END
$$;

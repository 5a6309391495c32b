-- Helpers the migrations use, installed (again) before any pending migration runs, so that every
-- migration finds the newest of them whatever version first installed them. Not shape: functions.
--
-- Bringing a table that already exists in public to the contract happens in place: ALTER TABLE
-- only (never recreate, never touch grants or RLS), never dropping a row or a column. What the user
-- built on such a table (policies, views, rules on the columns a conversion changes) is set aside
-- and recreated as it was, with its grants, comments and owner, in the same transaction; when that
-- cannot be done, nothing is changed and the error names each object and the statements to run.
-- Identifiers come from the fixed lists in the migration files and reach dynamic SQL only through
-- format('%I') or regclass; target types are checked against a fixed list. Every function runs with
-- an empty search_path (Supabase's linter, function_search_path_mutable): names are qualified.

-- The USING expression that converts column p_column of type category p_category to p_to.
-- p_kind refines a few conversions: 'status' (1/2/3 -> open/won/lost), 'digits14' and 'digits8'
-- (numbers that lost their leading zeros: CNPJ, CEP).
CREATE OR REPLACE FUNCTION ploomes_sync.cast_expression(
    p_column text, p_category "char", p_to text, p_kind text DEFAULT NULL
) RETURNS text
LANGUAGE plpgsql IMMUTABLE SET search_path = '' AS $fn$
DECLARE
    c   text := quote_ident(p_column);
    cat "char" := p_category;
BEGIN
    IF cat NOT IN ('S', 'N', 'D', 'B') THEN  -- anything else goes through its text form
        c := c || '::text';
        cat := 'S';
    END IF;
    IF p_to = 'text' THEN
        IF cat = 'N' AND p_kind = 'status' THEN
            RETURN format($e$CASE trunc(%1$s::numeric) WHEN 1 THEN 'open' WHEN 2 THEN 'won' WHEN 3 THEN 'lost'
                             ELSE %1$s::text END$e$, c);
        ELSIF cat = 'N' AND p_kind IN ('digits14', 'digits8') THEN
            RETURN format($e$lpad(trunc(%s::numeric)::text, %s, '0')$e$, c,
                          CASE p_kind WHEN 'digits14' THEN 14 ELSE 8 END);
        END IF;
        RETURN format('%s::text', c);
    ELSIF p_to IN ('bigint', 'integer') THEN
        IF cat = 'S' THEN
            RETURN format($e$nullif(btrim(%s), '')::numeric::%s$e$, c, p_to);
        ELSIF cat = 'B' THEN
            RETURN format('%s::integer::%s', c, p_to);
        END IF;
        RETURN format('%s::%s', c, p_to);
    ELSIF p_to = 'numeric(15,2)' THEN
        IF cat = 'S' THEN
            RETURN format($e$nullif(btrim(%s), '')::numeric(15,2)$e$, c);
        END IF;
        RETURN format('%s::numeric(15,2)', c);
    ELSIF p_to = 'timestamp with time zone' THEN
        -- values without an offset are read in the session time zone, which conform_table sets
        -- to America/Sao_Paulo (the business's clock, and Ploomes' -03:00) for the transaction.
        IF cat = 'S' THEN
            RETURN format($e$nullif(btrim(%s), '')::timestamptz$e$, c);
        ELSIF cat = 'N' THEN  -- Unix time, in milliseconds when too large for seconds
            RETURN format('to_timestamp(CASE WHEN abs(%1$s) >= 100000000000 THEN %1$s / 1000.0 ELSE %1$s END)', c);
        END IF;
        RETURN format('%s::timestamptz', c);
    ELSIF p_to = 'boolean' THEN
        IF cat = 'S' THEN
            RETURN format($e$CASE lower(btrim(%1$s)) WHEN '' THEN NULL WHEN 'sim' THEN true WHEN 's' THEN true
                             WHEN 'não' THEN false WHEN 'nao' THEN false ELSE btrim(%1$s)::boolean END$e$, c);
        ELSIF cat = 'N' THEN
            RETURN format('%s <> 0', c);
        END IF;
        RETURN format('%s::boolean', c);
    END IF;
    RAISE EXCEPTION 'ploomes_sync: no conversion to % is defined', p_to;
END
$fn$;

-- What depends on columns p_attnums of table p_rel and must be set aside while their type changes:
-- views and materialized views over them (and those over these, in creation order), rules that use
-- them, and row-level security policies that use them or those views. Returns
-- {"objects": [names], "drop": [statements, in order], "create": [statements, in order],
--  "adapted": {statement: the same policy comparing the converted columns as their old type}}:
-- p_old_types ({column: its type before}) lets a policy on p_rel that no longer type-checks (a
-- text column turned bigint, compared with text) be put back comparing the column as before.
CREATE OR REPLACE FUNCTION ploomes_sync.dependents(p_rel oid, p_attnums smallint[], p_old_types jsonb DEFAULT '{}')
RETURNS jsonb
LANGUAGE plpgsql STABLE SET search_path = '' AS $fn$
DECLARE
    v_views    oid[];
    v_rules    oid[];
    v_policies oid[];
    v_drop     text[] := '{}';
    v_create   text[] := '{}';
    v_objects  text[] := '{}';
    v_adapted  jsonb := '{}';
    v_oid      oid;
    v_qual     text;
    v_check    text;
    v_column   text;
    v_stmt     text;
    r          record;
BEGIN
    -- views and materialized views, deepest last (a view is created after those it reads)
    WITH RECURSIVE found(view, depth) AS (
        SELECT w.ev_class, 1
        FROM pg_catalog.pg_depend d JOIN pg_catalog.pg_rewrite w ON w.oid = d.objid
        WHERE d.classid = 'pg_catalog.pg_rewrite'::regclass AND d.refclassid = 'pg_catalog.pg_class'::regclass
          AND d.refobjid = p_rel AND d.refobjsubid = ANY (p_attnums) AND w.rulename = '_RETURN'
          AND w.ev_class <> p_rel
        UNION ALL
        SELECT w.ev_class, f.depth + 1
        FROM found f
        JOIN pg_catalog.pg_depend d ON d.refclassid = 'pg_catalog.pg_class'::regclass AND d.refobjid = f.view
                                    AND d.classid = 'pg_catalog.pg_rewrite'::regclass
        JOIN pg_catalog.pg_rewrite w ON w.oid = d.objid
        WHERE w.rulename = '_RETURN' AND w.ev_class <> f.view AND f.depth < 64
    )
    SELECT coalesce(array_agg(view ORDER BY depth, view), '{}') INTO v_views
    FROM (SELECT view, max(depth) AS depth FROM found GROUP BY view) AS deepest;

    -- rules other than a view's own (on any table) that use the columns or those views
    SELECT coalesce(array_agg(DISTINCT w.oid), '{}') INTO v_rules
    FROM pg_catalog.pg_depend d JOIN pg_catalog.pg_rewrite w ON w.oid = d.objid
    WHERE d.classid = 'pg_catalog.pg_rewrite'::regclass AND d.refclassid = 'pg_catalog.pg_class'::regclass
      AND w.rulename <> '_RETURN' AND NOT w.ev_class = ANY (v_views)
      AND ((d.refobjid = p_rel AND d.refobjsubid = ANY (p_attnums)) OR d.refobjid = ANY (v_views));

    -- policies (on any table) that use the columns or those views
    SELECT coalesce(array_agg(DISTINCT p.oid), '{}') INTO v_policies
    FROM pg_catalog.pg_depend d JOIN pg_catalog.pg_policy p ON p.oid = d.objid
    WHERE d.classid = 'pg_catalog.pg_policy'::regclass AND d.refclassid = 'pg_catalog.pg_class'::regclass
      AND ((d.refobjid = p_rel AND d.refobjsubid = ANY (p_attnums)) OR d.refobjid = ANY (v_views));

    -- set aside: policies and rules first, then the views, the deepest first
    FOR r IN SELECT p.oid, p.polname, p.polrelid FROM pg_catalog.pg_policy p WHERE p.oid = ANY (v_policies)
             ORDER BY p.oid LOOP
        v_drop := v_drop || format('DROP POLICY %I ON %s', r.polname, r.polrelid::regclass);
        v_objects := v_objects || format('policy %I on %s', r.polname, r.polrelid::regclass);
    END LOOP;
    FOR r IN SELECT w.rulename, w.ev_class FROM pg_catalog.pg_rewrite w WHERE w.oid = ANY (v_rules)
             ORDER BY w.oid LOOP
        v_drop := v_drop || format('DROP RULE %I ON %s', r.rulename, r.ev_class::regclass);
        v_objects := v_objects || format('rule %I on %s', r.rulename, r.ev_class::regclass);
    END LOOP;
    FOR i IN REVERSE coalesce(cardinality(v_views), 0)..1 LOOP
        SELECT c.oid, c.relkind INTO r FROM pg_catalog.pg_class c WHERE c.oid = v_views[i];
        v_drop := v_drop || format('DROP %s %s', CASE r.relkind WHEN 'm' THEN 'MATERIALIZED VIEW' ELSE 'VIEW' END,
                                   r.oid::regclass);
    END LOOP;

    -- put back: the views, the shallowest first, each with its options, owner, grants, comments,
    -- indexes and triggers; then the rules and the policies, with their comments
    FOREACH v_oid IN ARRAY v_views LOOP
        SELECT c.oid, c.relkind, c.reloptions, c.relispopulated, c.relacl,
               pg_catalog.pg_get_userbyid(c.relowner) AS owner,
               rtrim(pg_catalog.pg_get_viewdef(c.oid, true), ';') AS body
        INTO r FROM pg_catalog.pg_class c WHERE c.oid = v_oid;
        v_objects := v_objects || format('%s %s', CASE r.relkind WHEN 'm' THEN 'materialized view' ELSE 'view' END,
                                         r.oid::regclass);
        IF r.relkind = 'm' THEN
            v_create := v_create || format('CREATE MATERIALIZED VIEW %s%s AS %s WITH %s', r.oid::regclass,
                CASE WHEN r.reloptions IS NULL THEN '' ELSE format(' WITH (%s)', array_to_string(r.reloptions, ', ')) END,
                r.body, CASE WHEN r.relispopulated THEN 'DATA' ELSE 'NO DATA' END);
        ELSE
            v_create := v_create || format('CREATE VIEW %s%s AS %s', r.oid::regclass,
                CASE WHEN r.reloptions IS NULL THEN '' ELSE format(' WITH (%s)', array_to_string(r.reloptions, ', ')) END,
                r.body);
        END IF;
        v_create := v_create || format('ALTER %s %s OWNER TO %I',
            CASE r.relkind WHEN 'm' THEN 'MATERIALIZED VIEW' ELSE 'VIEW' END, r.oid::regclass, r.owner);
        -- the grants as they were, whatever default privileges gave the new view
        v_create := v_create || format('SELECT ploomes_sync.reset_grants(%L::regclass)', r.oid::regclass::text);
        v_create := v_create || ARRAY(
            SELECT format('GRANT %s ON %s TO %s%s', a.privilege_type, r.oid::regclass,
                          CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(pg_catalog.pg_get_userbyid(a.grantee)) END,
                          CASE WHEN a.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END)
            FROM pg_catalog.aclexplode(r.relacl) AS a
            WHERE a.grantee <> (SELECT relowner FROM pg_catalog.pg_class WHERE oid = r.oid)
            ORDER BY a.grantee, a.privilege_type);
        v_create := v_create || ARRAY(
            SELECT format('GRANT %s (%I) ON %s TO %s%s', a.privilege_type, att.attname, r.oid::regclass,
                          CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(pg_catalog.pg_get_userbyid(a.grantee)) END,
                          CASE WHEN a.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END)
            FROM pg_catalog.pg_attribute att, pg_catalog.aclexplode(att.attacl) AS a
            WHERE att.attrelid = r.oid AND att.attacl IS NOT NULL
            ORDER BY att.attnum, a.grantee, a.privilege_type);
        v_create := v_create || ARRAY(
            SELECT CASE WHEN ds.objsubid = 0
                        THEN format('COMMENT ON %s %s IS %L', CASE r.relkind WHEN 'm' THEN 'MATERIALIZED VIEW'
                                    ELSE 'VIEW' END, r.oid::regclass, ds.description)
                        ELSE format('COMMENT ON COLUMN %s.%I IS %L', r.oid::regclass,
                                    (SELECT attname FROM pg_catalog.pg_attribute
                                     WHERE attrelid = r.oid AND attnum = ds.objsubid), ds.description) END
            FROM pg_catalog.pg_description ds
            WHERE ds.objoid = r.oid AND ds.classoid = 'pg_catalog.pg_class'::regclass
            ORDER BY ds.objsubid);
        v_create := v_create || ARRAY(
            SELECT pg_catalog.pg_get_indexdef(i.indexrelid) FROM pg_catalog.pg_index i
            WHERE i.indrelid = r.oid ORDER BY i.indexrelid);
        v_create := v_create || ARRAY(
            SELECT pg_catalog.pg_get_triggerdef(t.oid, true) FROM pg_catalog.pg_trigger t
            WHERE t.tgrelid = r.oid AND NOT t.tgisinternal ORDER BY t.oid);
        v_create := v_create || ARRAY(
            SELECT rtrim(pg_catalog.pg_get_ruledef(w.oid, true), ';') FROM pg_catalog.pg_rewrite w
            WHERE w.ev_class = r.oid AND w.rulename <> '_RETURN' ORDER BY w.oid);
    END LOOP;
    v_create := v_create || ARRAY(
        SELECT rtrim(pg_catalog.pg_get_ruledef(w.oid, true), ';') FROM pg_catalog.pg_rewrite w
        WHERE w.oid = ANY (v_rules) ORDER BY w.oid);
    FOR r IN SELECT p.* FROM pg_catalog.pg_policy p WHERE p.oid = ANY (v_policies) ORDER BY p.oid LOOP
        v_qual := pg_catalog.pg_get_expr(r.polqual, r.polrelid);
        v_check := pg_catalog.pg_get_expr(r.polwithcheck, r.polrelid);
        v_stmt := ploomes_sync.policy_statement(r.oid, v_qual, v_check);
        v_create := v_create || v_stmt;
        IF r.polrelid = p_rel THEN  -- its own table's columns are named bare in its expressions
            FOR v_column IN SELECT jsonb_object_keys(p_old_types) LOOP
                v_qual := pg_catalog.regexp_replace(v_qual, format('(?<![.\w"])%s(?![\w"])', v_column),
                                                    format('(%s)::%s', v_column, p_old_types ->> v_column), 'g');
                v_check := pg_catalog.regexp_replace(v_check, format('(?<![.\w"])%s(?![\w"])', v_column),
                                                     format('(%s)::%s', v_column, p_old_types ->> v_column), 'g');
            END LOOP;
            v_adapted := v_adapted || jsonb_build_object(v_stmt, ploomes_sync.policy_statement(r.oid, v_qual, v_check));
        END IF;
        v_create := v_create || ARRAY(
            SELECT format('COMMENT ON POLICY %I ON %s IS %L', r.polname, r.polrelid::regclass, ds.description)
            FROM pg_catalog.pg_description ds
            WHERE ds.objoid = r.oid AND ds.classoid = 'pg_catalog.pg_policy'::regclass);
    END LOOP;
    RETURN jsonb_build_object('objects', to_jsonb(v_objects), 'drop', to_jsonb(v_drop), 'create', to_jsonb(v_create),
                              'adapted', v_adapted);
END
$fn$;

-- CREATE POLICY for policy p_policy as it is, with the expressions given.
CREATE OR REPLACE FUNCTION ploomes_sync.policy_statement(p_policy oid, p_qual text, p_check text) RETURNS text
LANGUAGE sql STABLE SET search_path = '' AS $fn$
    SELECT format('CREATE POLICY %I ON %s AS %s FOR %s TO %s%s%s', p.polname, p.polrelid::regclass,
        CASE WHEN p.polpermissive THEN 'PERMISSIVE' ELSE 'RESTRICTIVE' END,
        CASE p.polcmd WHEN 'r' THEN 'SELECT' WHEN 'a' THEN 'INSERT' WHEN 'w' THEN 'UPDATE' WHEN 'd' THEN 'DELETE'
                      ELSE 'ALL' END,
        (SELECT string_agg(CASE WHEN role = 0 THEN 'PUBLIC' ELSE quote_ident(pg_catalog.pg_get_userbyid(role)) END,
                           ', ' ORDER BY role) FROM unnest(p.polroles) AS role),
        CASE WHEN p_qual IS NULL THEN '' ELSE format(' USING (%s)', p_qual) END,
        CASE WHEN p_check IS NULL THEN '' ELSE format(' WITH CHECK (%s)', p_check) END)
    FROM pg_catalog.pg_policy p WHERE p.oid = p_policy
$fn$;

-- Revoke every privilege on p_rel from every role but its owner (a view just created again gets
-- what default privileges give; its own grants follow).
CREATE OR REPLACE FUNCTION ploomes_sync.reset_grants(p_rel regclass) RETURNS void
LANGUAGE plpgsql SET search_path = '' AS $fn$
DECLARE
    v_schema  text;
    v_name    text;
    v_grantee oid;
BEGIN
    SELECT n.nspname, c.relname INTO v_schema, v_name
    FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = p_rel;
    FOR v_grantee IN
        SELECT DISTINCT a.grantee FROM pg_catalog.pg_class c, pg_catalog.aclexplode(c.relacl) AS a
        WHERE c.oid = p_rel AND a.grantee <> c.relowner
    LOOP
        IF v_grantee = 0 THEN
            EXECUTE format('REVOKE ALL ON %I.%I FROM PUBLIC', v_schema, v_name);
        ELSE
            EXECUTE format('REVOKE ALL ON %I.%I FROM %I', v_schema, v_name, pg_catalog.pg_get_userbyid(v_grantee));
        END IF;
    END LOOP;
END
$fn$;

-- Add the missing columns of p_columns (a JSON array of [name, type] or [name, type, kind]) to
-- public.p_table and convert those of another type, each table in one rewrite at most. What
-- depends on the columns converted is set aside and put back as it was (ploomes_sync.dependents).
CREATE OR REPLACE FUNCTION ploomes_sync.conform_table(p_table text, p_columns jsonb) RETURNS void
LANGUAGE plpgsql SET search_path = '' AS $fn$
DECLARE
    v_rel      regclass;
    v_kind     "char";
    v_spec     jsonb;
    v_name     text;
    v_type     text;
    v_current  text;
    v_category "char";
    v_attnum   smallint;
    v_attnums  smallint[] := '{}';
    v_adds     text[] := '{}';
    v_alters   text[] := '{}';
    v_changes  text[] := '{}';
    v_deps     jsonb;
    v_step     text;
    v_advice   text;
    v_old      jsonb := '{}';
BEGIN
    SELECT c.oid, c.relkind INTO v_rel, v_kind
    FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = 'public' AND c.relname = p_table;
    IF v_rel IS NULL THEN
        RAISE EXCEPTION 'ploomes_sync: public.% does not exist', p_table;
    ELSIF v_kind NOT IN ('r', 'p') THEN
        RAISE EXCEPTION 'ploomes_sync: public.% exists but is not a table (relkind %)', p_table, v_kind
            USING HINT = 'Rename it out of the way, then run the migrations again.';
    END IF;
    PERFORM pg_catalog.set_config('TimeZone', 'America/Sao_Paulo', true);

    FOR v_spec IN SELECT value FROM pg_catalog.jsonb_array_elements(p_columns) LOOP
        v_name := v_spec ->> 0;
        v_type := v_spec ->> 1;
        IF v_type NOT IN ('bigint', 'integer', 'text', 'numeric(15,2)', 'timestamp with time zone', 'boolean') THEN
            RAISE EXCEPTION 'ploomes_sync: unsupported contract type % for %.%', v_type, p_table, v_name;
        END IF;
        SELECT pg_catalog.format_type(a.atttypid, a.atttypmod), t.typcategory, a.attnum
        INTO v_current, v_category, v_attnum
        FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
        WHERE a.attrelid = v_rel AND a.attname = v_name AND a.attnum > 0 AND NOT a.attisdropped;
        IF NOT FOUND THEN
            v_adds := v_adds || format('ADD COLUMN %I %s', v_name, v_type);
        ELSIF v_current <> v_type THEN
            v_alters := v_alters || format('ALTER COLUMN %I TYPE %s USING %s', v_name, v_type,
                                           ploomes_sync.cast_expression(v_name, v_category, v_type, v_spec ->> 2));
            v_changes := v_changes || format('%s %s -> %s', v_name, v_current, v_type);
            v_attnums := v_attnums || v_attnum;
            v_old := v_old || jsonb_build_object(v_name, v_current);
        END IF;
    END LOOP;

    IF cardinality(v_adds) > 0 THEN
        EXECUTE format('ALTER TABLE public.%I %s', p_table, array_to_string(v_adds, ', '));
        RAISE NOTICE 'ploomes_sync: public.%: %', p_table, array_to_string(v_adds, ', ');
    END IF;
    IF cardinality(v_alters) = 0 THEN
        RETURN;
    END IF;

    v_deps := ploomes_sync.dependents(v_rel, v_attnums, v_old);
    v_advice := format(E'Nothing was changed. To let the sync convert them, run as their owner:\n%s;\n'
                       || E'then trigger the sync once (its migrations run first), then put them back, adapting '
                       || E'them to the new types where they need it:\n%s;',
                       (SELECT string_agg(s, E';\n') FROM pg_catalog.jsonb_array_elements_text(v_deps -> 'drop') AS s),
                       (SELECT string_agg(s, E';\n') FROM pg_catalog.jsonb_array_elements_text(v_deps -> 'create') AS s));
    FOR v_step IN SELECT s FROM pg_catalog.jsonb_array_elements_text(v_deps -> 'drop') AS s LOOP
        BEGIN
            EXECUTE v_step;
        EXCEPTION WHEN OTHERS THEN
            RAISE EXCEPTION 'ploomes_sync: cannot convert public.% (%): % depend on those columns, and % failed: %',
                p_table, array_to_string(v_changes, ', '),
                (SELECT string_agg(o, ', ') FROM pg_catalog.jsonb_array_elements_text(v_deps -> 'objects') AS o),
                v_step, SQLERRM
                USING HINT = v_advice;
        END;
    END LOOP;
    BEGIN
        EXECUTE format('ALTER TABLE public.%I %s', p_table, array_to_string(v_alters, ', '));
    EXCEPTION WHEN data_exception THEN
        RAISE EXCEPTION 'ploomes_sync: cannot convert public.% (%): %', p_table,
            array_to_string(v_changes, ', '), SQLERRM
            USING ERRCODE = SQLSTATE,
                  HINT = 'Nothing was changed. Correct or clear the values that do not convert, then run the migrations again.';
    END;
    FOR v_step IN SELECT s FROM pg_catalog.jsonb_array_elements_text(v_deps -> 'create') AS s LOOP
        BEGIN
            BEGIN
                EXECUTE v_step;
            EXCEPTION WHEN OTHERS THEN  -- a policy of the table that compared a column as its old type
                IF NOT (v_deps -> 'adapted') ? v_step THEN
                    RAISE;
                END IF;
                EXECUTE v_deps -> 'adapted' ->> v_step;
                RAISE NOTICE 'ploomes_sync: % put back comparing the converted columns as their old types: %',
                    v_step, v_deps -> 'adapted' ->> v_step;
            END;
        EXCEPTION WHEN OTHERS THEN
            RAISE EXCEPTION 'ploomes_sync: cannot convert public.% (%): % depend on those columns, and putting '
                            'them back over the new types failed at: %: %', p_table, array_to_string(v_changes, ', '),
                (SELECT string_agg(o, ', ') FROM pg_catalog.jsonb_array_elements_text(v_deps -> 'objects') AS o),
                v_step, SQLERRM
                USING HINT = v_advice;
        END;
    END LOOP;
    RAISE NOTICE 'ploomes_sync: public.% converted: %', p_table, array_to_string(v_changes, ', ');
    IF pg_catalog.jsonb_array_length(v_deps -> 'objects') > 0 THEN
        RAISE NOTICE 'ploomes_sync: kept, as they were: %',
            (SELECT string_agg(o, ', ') FROM pg_catalog.jsonb_array_elements_text(v_deps -> 'objects') AS o);
    END IF;
END
$fn$;

-- Rename public.p_table.p_old to p_new when the table still has the old name only.
CREATE OR REPLACE FUNCTION ploomes_sync.rename_column(p_table text, p_old text, p_new text) RETURNS void
LANGUAGE plpgsql SET search_path = '' AS $fn$
DECLARE
    v_rel regclass := to_regclass(format('public.%I', p_table));
    v_has_old boolean;
    v_has_new boolean;
BEGIN
    SELECT bool_or(attname = p_old), bool_or(attname = p_new) INTO v_has_old, v_has_new
    FROM pg_catalog.pg_attribute WHERE attrelid = v_rel AND attnum > 0 AND NOT attisdropped;
    IF v_has_old AND NOT v_has_new THEN
        EXECUTE format('ALTER TABLE public.%I RENAME COLUMN %I TO %I', p_table, p_old, p_new);
        RAISE NOTICE 'ploomes_sync: public.%: renamed % to %', p_table, p_old, p_new;
    ELSIF v_has_old AND v_has_new THEN
        RAISE WARNING 'ploomes_sync: public.% has both % and %; % is left as it is', p_table, p_old, p_new, p_old;
    END IF;
END
$fn$;

-- Make public.p_table.p_column usable as the ON CONFLICT key: a unique, non-partial index on it
-- alone (the primary key when the table has none), NOT NULL, and accepting explicit values.
CREATE OR REPLACE FUNCTION ploomes_sync.ensure_key(p_table text, p_column text) RETURNS void
LANGUAGE plpgsql SET search_path = '' AS $fn$
DECLARE
    v_rel      regclass := to_regclass(format('public.%I', p_table));
    v_attnum   smallint;
    v_identity "char";
    v_nulls    bigint;
    v_dups     bigint;
BEGIN
    SELECT attnum, attidentity INTO v_attnum, v_identity
    FROM pg_catalog.pg_attribute WHERE attrelid = v_rel AND attname = p_column AND NOT attisdropped;
    IF NOT EXISTS (
        SELECT 1 FROM pg_catalog.pg_index i
        WHERE i.indrelid = v_rel AND i.indisunique AND i.indisvalid AND i.indpred IS NULL
          AND i.indexprs IS NULL AND i.indnkeyatts = 1 AND i.indkey[0] = v_attnum
    ) THEN
        EXECUTE format('SELECT count(*) FILTER (WHERE %1$I IS NULL), count(%1$I) - count(DISTINCT %1$I) FROM public.%2$I',
                       p_column, p_table) INTO v_nulls, v_dups;
        IF v_nulls > 0 OR v_dups > 0 THEN
            RAISE EXCEPTION 'ploomes_sync: public.%.% must be unique and not null: % rows have no %, % rows repeat one',
                p_table, p_column, v_nulls, p_column, v_dups
                USING HINT = 'Nothing was changed. Keep a copy, remove or merge those rows, then run the migrations again.';
        END IF;
        IF EXISTS (SELECT 1 FROM pg_catalog.pg_index WHERE indrelid = v_rel AND indisprimary) THEN
            EXECUTE format('ALTER TABLE public.%I ADD CONSTRAINT %I UNIQUE (%I)', p_table,
                           left(p_table || '_' || p_column || '_key', 63), p_column);
        ELSE
            EXECUTE format('ALTER TABLE public.%I ADD PRIMARY KEY (%I)', p_table, p_column);
        END IF;
        RAISE NOTICE 'ploomes_sync: public.%: % is now unique', p_table, p_column;
    END IF;
    IF v_identity = 'a' THEN  -- GENERATED ALWAYS would refuse the Ploomes ids
        EXECUTE format('ALTER TABLE public.%I ALTER COLUMN %I SET GENERATED BY DEFAULT', p_table, p_column);
    END IF;
    IF EXISTS (SELECT 1 FROM pg_catalog.pg_attribute
               WHERE attrelid = v_rel AND attnum = v_attnum AND NOT attnotnull) THEN
        EXECUTE format('ALTER TABLE public.%I ALTER COLUMN %I SET NOT NULL', p_table, p_column);
    END IF;
END
$fn$;

-- Drop NOT NULL where it would stop the sync writing a row: on the contract's columns other than
-- p_keep, and on the table's own extra columns that have no default. Key columns are left alone.
CREATE OR REPLACE FUNCTION ploomes_sync.relax_not_null(p_table text, p_keep text[], p_contract text[]) RETURNS void
LANGUAGE plpgsql SET search_path = '' AS $fn$
DECLARE
    v_rel    regclass := to_regclass(format('public.%I', p_table));
    v_column text;
BEGIN
    FOR v_column IN
        SELECT a.attname FROM pg_catalog.pg_attribute a
        WHERE a.attrelid = v_rel AND a.attnum > 0 AND NOT a.attisdropped AND a.attnotnull
          AND a.attidentity = '' AND a.attgenerated = ''
          AND a.attname <> ALL (p_keep)
          AND (a.attname = ANY (p_contract) OR NOT a.atthasdef)
          AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_index i
                          WHERE i.indrelid = v_rel AND i.indisprimary AND a.attnum = ANY (i.indkey))
        ORDER BY a.attnum
    LOOP
        EXECUTE format('ALTER TABLE public.%I ALTER COLUMN %I DROP NOT NULL', p_table, v_column);
        RAISE NOTICE 'ploomes_sync: public.%.% may now be null', p_table, v_column;
    END LOOP;
END
$fn$;

-- Record an object of public the contract names (p_created: the sync created it, rather than
-- finding an older one): ploomes_sync.public_objects lists them for the least-privilege script and
-- the dashboard's grant. What the sync creates starts private: no privilege for PUBLIC nor for
-- Supabase's API roles (anon, authenticated, service_role), whatever default privileges gave them;
-- the dashboard's step (include/sql/roles/dashboard_read.sql) grants the role a dashboard uses.
-- An older table keeps its grants.
CREATE OR REPLACE FUNCTION ploomes_sync.public_object(p_name text, p_created boolean) RETURNS void
LANGUAGE plpgsql SET search_path = '' AS $fn$
DECLARE
    v_rel  regclass := pg_catalog.to_regclass(pg_catalog.format('public.%I', p_name));
    v_role text;
BEGIN
    IF v_rel IS NULL THEN
        RAISE EXCEPTION 'ploomes_sync: public.% does not exist', p_name;
    END IF;
    INSERT INTO ploomes_sync.public_objects (name, created) VALUES (p_name, p_created)
    ON CONFLICT (name) DO NOTHING;
    IF p_created AND FOUND THEN  -- recorded now as created (not an older object recorded before)
        EXECUTE format('REVOKE ALL ON public.%I FROM PUBLIC', p_name);
        FOREACH v_role IN ARRAY ARRAY['anon', 'authenticated', 'service_role'] LOOP
            IF EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = v_role) THEN
                EXECUTE format('REVOKE ALL ON public.%I FROM %I', p_name, v_role);
            END IF;
        END LOOP;
    END IF;
END
$fn$;

REVOKE ALL ON FUNCTION ploomes_sync.cast_expression(text, "char", text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION ploomes_sync.dependents(oid, smallint[], jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION ploomes_sync.policy_statement(oid, text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION ploomes_sync.reset_grants(regclass) FROM PUBLIC;
REVOKE ALL ON FUNCTION ploomes_sync.conform_table(text, jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION ploomes_sync.rename_column(text, text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION ploomes_sync.ensure_key(text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION ploomes_sync.relax_not_null(text, text[], text[]) FROM PUBLIC;
REVOKE ALL ON FUNCTION ploomes_sync.public_object(text, boolean) FROM PUBLIC;

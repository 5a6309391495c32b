-- Helpers the migrations use to bring a table that already exists in public to the contract in
-- place: ALTER TABLE only (never recreate, never touch grants, policies or RLS), and never drop a
-- row or a column. Identifiers come from the fixed lists in the migration files and reach dynamic
-- SQL only through format('%I'); target types are checked against a fixed list.

-- The USING expression that converts column p_column of type category p_category to p_to.
-- p_kind refines a few conversions: 'status' (1/2/3 -> open/won/lost), 'digits14' and 'digits8'
-- (numbers that lost their leading zeros: CNPJ, CEP).
CREATE OR REPLACE FUNCTION ploomes_sync.cast_expression(
    p_column text, p_category "char", p_to text, p_kind text DEFAULT NULL
) RETURNS text
LANGUAGE plpgsql IMMUTABLE AS $fn$
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

-- Add the missing columns of p_columns (a JSON array of [name, type] or [name, type, kind]) to
-- public.p_table and convert those of another type, each table in one rewrite at most.
CREATE OR REPLACE FUNCTION ploomes_sync.conform_table(p_table text, p_columns jsonb) RETURNS void
LANGUAGE plpgsql AS $fn$
DECLARE
    v_rel      regclass;
    v_kind     "char";
    v_spec     jsonb;
    v_name     text;
    v_type     text;
    v_current  text;
    v_category "char";
    v_adds     text[] := '{}';
    v_alters   text[] := '{}';
    v_changes  text[] := '{}';
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
    PERFORM set_config('TimeZone', 'America/Sao_Paulo', true);

    FOR v_spec IN SELECT value FROM jsonb_array_elements(p_columns) LOOP
        v_name := v_spec ->> 0;
        v_type := v_spec ->> 1;
        IF v_type NOT IN ('bigint', 'integer', 'text', 'numeric(15,2)', 'timestamp with time zone', 'boolean') THEN
            RAISE EXCEPTION 'ploomes_sync: unsupported contract type % for %.%', v_type, p_table, v_name;
        END IF;
        SELECT format_type(a.atttypid, a.atttypmod), t.typcategory INTO v_current, v_category
        FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
        WHERE a.attrelid = v_rel AND a.attname = v_name AND a.attnum > 0 AND NOT a.attisdropped;
        IF NOT FOUND THEN
            v_adds := v_adds || format('ADD COLUMN %I %s', v_name, v_type);
        ELSIF v_current <> v_type THEN
            v_alters := v_alters || format('ALTER COLUMN %I TYPE %s USING %s', v_name, v_type,
                                           ploomes_sync.cast_expression(v_name, v_category, v_type, v_spec ->> 2));
            v_changes := v_changes || format('%s %s -> %s', v_name, v_current, v_type);
        END IF;
    END LOOP;

    IF cardinality(v_adds) > 0 THEN
        EXECUTE format('ALTER TABLE public.%I %s', p_table, array_to_string(v_adds, ', '));
        RAISE NOTICE 'ploomes_sync: public.%: %', p_table, array_to_string(v_adds, ', ');
    END IF;
    IF cardinality(v_alters) > 0 THEN
        BEGIN
            EXECUTE format('ALTER TABLE public.%I %s', p_table, array_to_string(v_alters, ', '));
        EXCEPTION WHEN data_exception THEN
            RAISE EXCEPTION 'ploomes_sync: cannot convert public.% (%): %', p_table,
                array_to_string(v_changes, ', '), SQLERRM
                USING ERRCODE = SQLSTATE,
                      HINT = 'Nothing was changed. Correct or clear the values that do not convert, then run the migrations again.';
        END;
        RAISE NOTICE 'ploomes_sync: public.% converted: %', p_table, array_to_string(v_changes, ', ');
    END IF;
END
$fn$;

-- Rename public.p_table.p_old to p_new when the table still has the old name only.
CREATE OR REPLACE FUNCTION ploomes_sync.rename_column(p_table text, p_old text, p_new text) RETURNS void
LANGUAGE plpgsql AS $fn$
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
LANGUAGE plpgsql AS $fn$
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
LANGUAGE plpgsql AS $fn$
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

REVOKE ALL ON FUNCTION ploomes_sync.cast_expression(text, "char", text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION ploomes_sync.conform_table(text, jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION ploomes_sync.rename_column(text, text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION ploomes_sync.ensure_key(text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION ploomes_sync.relax_not_null(text, text[], text[]) FROM PUBLIC;

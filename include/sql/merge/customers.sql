-- One run's staged contacts -> public.customers, in one statement; same rules as sales.sql.
-- Returns (distinct staged ids, inserted, updated).
WITH staged AS (
    SELECT DISTINCT ON (id)
           id, name, legal_name, cnpj, zip_code, is_client, created_at, updated_at
    FROM ploomes_sync.stage_contacts
    WHERE run_key = %(run_key)s
    ORDER BY id, updated_at DESC NULLS LAST
),
written AS (
    INSERT INTO public.customers AS t (id, name, legal_name, cnpj, zip_code, is_client, created_at, updated_at,
                                       synced_at)
    SELECT id, name, legal_name, cnpj, zip_code, is_client, created_at, updated_at, statement_timestamp()
    FROM staged
    ORDER BY id
    ON CONFLICT (id) DO UPDATE SET
        name       = EXCLUDED.name,
        legal_name = EXCLUDED.legal_name,
        cnpj       = EXCLUDED.cnpj,
        zip_code   = EXCLUDED.zip_code,
        is_client  = EXCLUDED.is_client,
        created_at = EXCLUDED.created_at,
        updated_at = EXCLUDED.updated_at,
        synced_at  = EXCLUDED.synced_at
    WHERE (t.updated_at IS NULL OR t.updated_at <= EXCLUDED.updated_at)
      AND (t.name, t.legal_name, t.cnpj, t.zip_code, t.is_client, t.created_at, t.updated_at)
          IS DISTINCT FROM
          (EXCLUDED.name, EXCLUDED.legal_name, EXCLUDED.cnpj, EXCLUDED.zip_code, EXCLUDED.is_client,
           EXCLUDED.created_at, EXCLUDED.updated_at)
    RETURNING (xmax = 0) AS inserted
)
SELECT (SELECT count(*) FROM staged),
       count(*) FILTER (WHERE inserted),
       count(*) FILTER (WHERE NOT inserted)
FROM written;

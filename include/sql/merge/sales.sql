-- One run's staged deals -> public.sales, in one statement. The newest staged version of each id
-- wins; an older version never overwrites a newer row, and an identical one is left alone (its
-- synced_at too). A deal another run found deleted at or after %(read_after)s (this run read it
-- before that) is not put back. Returns (distinct staged ids, inserted, updated).
WITH staged AS (
    SELECT DISTINCT ON (id)
           id, customer_id, title, deal_value, status, pipeline_id, stage_id, owner_id,
           created_at, updated_at, closed_at
    FROM ploomes_sync.stage_deals
    WHERE run_key = %(run_key)s
    ORDER BY id, updated_at DESC NULLS LAST
),
written AS (
    INSERT INTO public.sales AS t (id, customer_id, title, deal_value, status, won, pipeline_id, stage_id,
                                   owner_id, created_at, updated_at, closed_at, synced_at)
    SELECT id, customer_id, title, deal_value, status, status = 'won', pipeline_id, stage_id,
           owner_id, created_at, updated_at, closed_at, statement_timestamp()
    FROM staged AS st
    WHERE %(read_after)s::timestamptz IS NULL
       OR NOT EXISTS (SELECT 1 FROM ploomes_sync.deleted_sales AS d
                      WHERE d.id = st.id AND d.deleted_at >= %(read_after)s::timestamptz)
    ORDER BY id
    ON CONFLICT (id) DO UPDATE SET
        customer_id = EXCLUDED.customer_id,
        title       = EXCLUDED.title,
        deal_value  = EXCLUDED.deal_value,
        status      = EXCLUDED.status,
        won         = EXCLUDED.won,
        pipeline_id = EXCLUDED.pipeline_id,
        stage_id    = EXCLUDED.stage_id,
        owner_id    = EXCLUDED.owner_id,
        created_at  = EXCLUDED.created_at,
        updated_at  = EXCLUDED.updated_at,
        closed_at   = EXCLUDED.closed_at,
        synced_at   = EXCLUDED.synced_at
    WHERE (t.updated_at IS NULL OR t.updated_at <= EXCLUDED.updated_at)
      AND (t.customer_id, t.title, t.deal_value, t.status, t.won, t.pipeline_id, t.stage_id, t.owner_id,
           t.created_at, t.updated_at, t.closed_at)
          IS DISTINCT FROM
          (EXCLUDED.customer_id, EXCLUDED.title, EXCLUDED.deal_value, EXCLUDED.status, EXCLUDED.won,
           EXCLUDED.pipeline_id, EXCLUDED.stage_id, EXCLUDED.owner_id, EXCLUDED.created_at,
           EXCLUDED.updated_at, EXCLUDED.closed_at)
    RETURNING (xmax = 0) AS inserted
)
SELECT (SELECT count(*) FROM staged),
       count(*) FILTER (WHERE inserted),
       count(*) FILTER (WHERE NOT inserted)
FROM written;

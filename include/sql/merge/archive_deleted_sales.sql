-- Deals in the scope that the run's listing does not hold are gone from Ploomes: copy each into
-- ploomes_sync.deleted_sales and remove it from public.sales, in one statement. Not judged: rows
-- written after the listing started (synced_at), and ids beyond the last one the listing reached.
WITH gone AS (
    DELETE FROM public.sales AS s
    WHERE (%(created_from)s::timestamptz IS NULL OR s.created_at >= %(created_from)s::timestamptz)
      AND (%(created_to)s::timestamptz IS NULL OR s.created_at < %(created_to)s::timestamptz)
      AND (s.synced_at IS NULL OR s.synced_at < %(listing_started_at)s::timestamptz)
      AND s.id <= %(max_id)s::bigint
      AND NOT EXISTS (SELECT 1 FROM ploomes_sync.stage_deal_listing AS l
                      WHERE l.run_key = %(run_key)s AND l.id = s.id)
    RETURNING s.*
),
archived AS (
    INSERT INTO ploomes_sync.deleted_sales (id, customer_id, title, deal_value, status, won, pipeline_id,
                                            stage_id, owner_id, created_at, updated_at, closed_at,
                                            synced_at, deleted_at, run_key, row_data)
    SELECT g.id, g.customer_id, g.title, g.deal_value, g.status, g.won, g.pipeline_id, g.stage_id,
           g.owner_id, g.created_at, g.updated_at, g.closed_at, g.synced_at, now(), %(run_key)s,
           to_jsonb(g)
    FROM gone AS g
    ORDER BY g.id
    RETURNING id
)
SELECT count(*) FROM archived;

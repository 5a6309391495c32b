-- Template: copy the given rows of a stream's public table into its archive and remove them, in
-- one statement (rows written since the listing began are left alone). Returns (rows archived,
-- customers whose customer_sales row may change).
WITH gone AS (
    DELETE FROM {target} AS t
    WHERE t.id = ANY(%(ids)s::bigint[])
      AND (t.synced_at IS NULL OR t.synced_at < %(started_wh)s::timestamptz)
    RETURNING t.*
),
archived AS (
    INSERT INTO {archive} ({columns}, synced_at, deleted_at, run_id, row_data)
    SELECT {gone_columns}, g.synced_at, clock_timestamp(), %(run_id)s, to_jsonb(g)
    FROM gone AS g
    ORDER BY g.id
    RETURNING id
)
SELECT (SELECT count(*) FROM archived),
       (SELECT array_agg(DISTINCT {g_customer} ORDER BY {g_customer})
        FROM gone AS g WHERE {g_customer} IS NOT NULL);

-- How many deals the run's listing holds within the scope, and the highest id it reached.
SELECT count(*), max(id)
FROM ploomes_sync.stage_deal_listing
WHERE run_key = %(run_key)s
  AND (%(created_from)s::timestamptz IS NULL OR created_at >= %(created_from)s::timestamptz)
  AND (%(created_to)s::timestamptz IS NULL OR created_at < %(created_to)s::timestamptz);

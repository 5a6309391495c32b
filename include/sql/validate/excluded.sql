-- How many listed deals (within the scope) changed at or after the cutoff.
SELECT count(DISTINCT id)
FROM ploomes_sync.stage_deal_listing
WHERE run_key = %(run_key)s
  AND updated_at >= %(cutoff)s::timestamptz
  AND (%(created_from)s::timestamptz IS NULL OR created_at >= %(created_from)s::timestamptz)
  AND (%(created_to)s::timestamptz IS NULL OR created_at < %(created_to)s::timestamptz);

-- Template: the rows of a stream's public table in the run's scope (all of them, or a date-range
-- run's CreateDate window: what a share of deletions is measured against), how many of those the
-- listing judged, and the ids of those it shows gone from Ploomes.
-- Judged: rows in the Id ranges the run listed (ploomes_sync.listing_ranges), within a date-range
-- run's CreateDate scope, written before the listing began (the warehouse's clock). Gone: judged
-- rows the listing does not hold and did not set aside (a rejected record still exists).
WITH scope AS (
    SELECT t.id, t.synced_at
    FROM {target} AS t
    WHERE (%(created_from)s::timestamptz IS NULL OR {t_created} >= %(created_from)s::timestamptz)
      AND (%(created_to)s::timestamptz IS NULL OR {t_created} < %(created_to)s::timestamptz)
),
judged AS (
    SELECT t.id
    FROM scope AS t
    WHERE (t.synced_at IS NULL OR t.synced_at < %(started_wh)s::timestamptz)
      AND EXISTS (SELECT 1 FROM ploomes_sync.listing_ranges AS r
                  WHERE r.run_id = %(run_id)s AND r.stream = %(stream)s AND r.listed
                    AND (r.id_after IS NULL OR t.id > r.id_after)
                    AND (r.id_upto IS NULL OR t.id <= r.id_upto))
)
SELECT (SELECT count(*) FROM scope),
       (SELECT count(*) FROM judged),
       coalesce(array_agg(j.id ORDER BY j.id), '{{}}')
FROM judged AS j
WHERE NOT EXISTS (SELECT 1 FROM {listing} AS l WHERE l.run_id = %(run_id)s AND l.id = j.id)
  AND NOT EXISTS (SELECT 1 FROM ploomes_sync.rejects AS x
                  WHERE x.run_id = %(run_id)s AND x.stream = %(reject_stream)s AND x.record_id = j.id::text);

-- Template: the records a run's listing holds that the stream's public table lacks, or holds in
-- another version (a listed column differs): what the reconcile reads again by Id and merges.
-- Left out: records the run set aside (rejected), rows written after the listing began (a later
-- read wrote them) and rows archived as gone since (another run found them deleted).
WITH listing AS (
    SELECT DISTINCT ON (id) {listed}
    FROM {listing}
    WHERE run_id = %(run_id)s
    ORDER BY id, updated_at DESC NULLS LAST
)
SELECT coalesce(array_agg(l.id ORDER BY l.id), '{{}}')
FROM listing AS l
LEFT JOIN {target} AS w ON w.id = l.id
WHERE (w.id IS NULL OR ({listed_l}) IS DISTINCT FROM ({listed_w}))
  AND (w.synced_at IS NULL OR w.synced_at < %(started_wh)s::timestamptz)
  AND NOT EXISTS (SELECT 1 FROM ploomes_sync.rejects AS x
                  WHERE x.run_id = %(run_id)s AND x.stream IN (%(reject_stream)s, %(stream)s)
                    AND x.record_id = l.id::text)
  AND NOT EXISTS (SELECT 1 FROM {archive} AS d
                  WHERE d.id = l.id AND d.deleted_at >= %(started_wh)s::timestamptz);

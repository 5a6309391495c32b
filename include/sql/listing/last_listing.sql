-- When the last listing of a stream by a successful run began (the warehouse's clock), of the given
-- methods ('full', 'count', 'extract'); date-range runs list only their range and do not count.
SELECT max(l.started_wh)
FROM ploomes_sync.listings AS l
JOIN ploomes_sync.run_history AS h ON h.run_id = l.run_id
WHERE h.status = 'success'
  AND l.stream = %(stream)s
  AND l.method = ANY(%(methods)s::text[])
  AND l.created_from IS NULL;

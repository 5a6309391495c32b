-- Doubt these records of a stream (parallel arrays: ids and a reason each), keeping the first finding.
INSERT INTO ploomes_sync.suspects (stream, id, reason, found_by)
SELECT %(stream)s, s.id, s.reason, %(run_id)s
FROM unnest(%(ids)s::bigint[], %(reasons)s::text[]) AS s(id, reason)
ON CONFLICT (stream, id) DO NOTHING;

-- The runs of the last %(days)s days, newest first (at most %(limit)s): what the health page lists
-- and charts. rows_changed: rows inserted, updated and deleted across the streams (%(streams)s: the
-- registry's names; the run history also counts customer_sales, which is not a stream).
SELECT h.run_id, h.dag_id, h.run_type, h.mode, h.status, h.started_at, h.finished_at,
       extract(epoch FROM coalesce(h.finished_at, clock_timestamp()) - h.started_at) AS duration_seconds,
       h.streams, h.api_requests, h.throttled, h.error,
       (SELECT coalesce(sum(coalesce((s.value ->> 'inserted')::bigint, 0)
                            + coalesce((s.value ->> 'updated')::bigint, 0)
                            + coalesce((s.value ->> 'deleted')::bigint, 0)), 0)
        FROM jsonb_each(h.streams) AS s
        WHERE s.key = ANY(%(streams)s::text[]) AND jsonb_typeof(s.value) = 'object') AS rows_changed
FROM ploomes_sync.run_history AS h
WHERE h.started_at > clock_timestamp() - make_interval(days => %(days)s)
ORDER BY h.started_at DESC
LIMIT %(limit)s;

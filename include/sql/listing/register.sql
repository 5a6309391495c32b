-- Record a run's listing of a stream (again, when a retried task lists anew).
INSERT INTO ploomes_sync.listings AS l (run_id, stream, source, method, started_wh, read_started_at,
                                        created_from, created_to, requests, listed, rejected, rejected_without_id,
                                        read_ended_at)
VALUES (%(run_id)s, %(stream)s, %(source)s, %(method)s, %(started_wh)s, %(read_started_at)s,
        %(created_from)s, %(created_to)s, %(requests)s, %(listed)s, %(rejected)s, %(rejected_without_id)s,
        %(read_ended_at)s)
ON CONFLICT (run_id, stream) DO UPDATE SET
    source = EXCLUDED.source, method = EXCLUDED.method, started_wh = EXCLUDED.started_wh,
    read_started_at = EXCLUDED.read_started_at, created_from = EXCLUDED.created_from,
    created_to = EXCLUDED.created_to, requests = EXCLUDED.requests, listed = EXCLUDED.listed,
    rejected = EXCLUDED.rejected, rejected_without_id = EXCLUDED.rejected_without_id,
    read_ended_at = EXCLUDED.read_ended_at;

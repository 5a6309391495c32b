SELECT run_id, stream, source, method, started_wh, read_started_at, created_from, created_to, requests, listed,
       rejected, rejected_without_id, read_ended_at
FROM ploomes_sync.listings
WHERE run_id = %(run_id)s AND stream = %(stream)s;

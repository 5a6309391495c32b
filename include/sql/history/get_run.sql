SELECT run_id, dag_id, run_type, mode, status, started_at, finished_at, window_start, window_end, streams,
       api_requests, throttled, watermarks_before, watermarks_after, year_table, checks, listing, error
FROM ploomes_sync.run_history
WHERE run_id = %(run_id)s;

INSERT INTO ploomes_sync.run_history AS h (run_id, api_requests, throttled)
VALUES (%(run_id)s, %(requests)s, %(throttled)s)
ON CONFLICT (run_id) DO UPDATE SET
    api_requests = h.api_requests + EXCLUDED.api_requests,
    throttled    = h.throttled + EXCLUDED.throttled;

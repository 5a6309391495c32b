-- Close a run. What is not given (watermarks, error) keeps its value, except that a success clears
-- an error left by an earlier failed attempt.
INSERT INTO ploomes_sync.run_history AS h (run_id, status, finished_at, error, watermarks_after)
VALUES (%(run_id)s, %(status)s, clock_timestamp(), %(error)s, %(watermarks_after)s)
ON CONFLICT (run_id) DO UPDATE SET
    status           = EXCLUDED.status,
    finished_at      = EXCLUDED.finished_at,
    error            = CASE WHEN EXCLUDED.error IS NOT NULL THEN EXCLUDED.error
                            WHEN EXCLUDED.status = 'success' THEN NULL
                            ELSE h.error END,
    watermarks_after = coalesce(EXCLUDED.watermarks_after, h.watermarks_after);

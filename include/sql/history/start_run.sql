-- Open (or reopen, when a retried task calls again) a run's row; started_at keeps the first call.
INSERT INTO ploomes_sync.run_history AS h (run_id, dag_id, run_type, mode, status, started_at, window_start,
                                           window_end, watermarks_before)
VALUES (%(run_id)s, %(dag_id)s, %(run_type)s, %(mode)s, 'running', clock_timestamp(), %(window_start)s, %(window_end)s,
        %(watermarks_before)s)
ON CONFLICT (run_id) DO UPDATE SET
    dag_id            = EXCLUDED.dag_id,
    run_type          = EXCLUDED.run_type,
    mode              = EXCLUDED.mode,
    status            = 'running',
    finished_at       = NULL,
    error             = NULL,
    window_start      = EXCLUDED.window_start,
    window_end        = EXCLUDED.window_end,
    watermarks_before = EXCLUDED.watermarks_before;

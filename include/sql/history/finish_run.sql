-- Close a run. What is not given (year table, watermarks, error) keeps its value, except that a
-- success clears an error left by an earlier failed attempt.
INSERT INTO ploomes_sync.run_history AS h (run_key, status, finished_at, year_table, error, watermarks_after)
VALUES (%(run_key)s, %(status)s, now(), %(year_table)s, %(error)s, %(watermarks_after)s)
ON CONFLICT (run_key) DO UPDATE SET
    status           = EXCLUDED.status,
    finished_at      = EXCLUDED.finished_at,
    year_table       = coalesce(EXCLUDED.year_table, h.year_table),
    error            = CASE WHEN EXCLUDED.error IS NOT NULL THEN EXCLUDED.error
                            WHEN EXCLUDED.status = 'success' THEN NULL
                            ELSE h.error END,
    watermarks_after = coalesce(EXCLUDED.watermarks_after, h.watermarks_after);

-- A stream's staging is complete: record it (stage_rows appends, so counts add up).
INSERT INTO ploomes_sync.stage_runs AS r (run_key, stream, row_count, staged_at)
VALUES (%(run_key)s, %(stream)s, %(row_count)s, now())
ON CONFLICT (run_key, stream) DO UPDATE SET row_count = r.row_count + EXCLUDED.row_count,
                                            staged_at = EXCLUDED.staged_at;

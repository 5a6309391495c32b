-- A stream's staging is complete: record it, with when its read began in Ploomes' clock and in the
-- warehouse's, and when it ended in Ploomes' clock (a retried extract clears its stream first, so there is one registration per read).
INSERT INTO ploomes_sync.stage_runs AS r (run_id, stream, row_count, staged_at, read_started_at, read_started_wh,
                                         read_ended_at, complete)
VALUES (%(run_id)s, %(stream)s, %(row_count)s, clock_timestamp(), %(read_started_at)s, %(read_started_wh)s,
        %(read_ended_at)s, %(complete)s)
ON CONFLICT (run_id, stream) DO UPDATE SET row_count       = EXCLUDED.row_count,
                                           staged_at       = EXCLUDED.staged_at,
                                           read_started_at = EXCLUDED.read_started_at,
                                           read_started_wh = EXCLUDED.read_started_wh,
                                           read_ended_at   = EXCLUDED.read_ended_at,
                                           complete        = EXCLUDED.complete;

-- Template: what the run staged for the stream, when its read began (Ploomes' clock, then the
-- warehouse's) and ended (Ploomes' clock), whether it got every record Ploomes counted; no row when it staged nothing or its staging is gone: the stage tables are
-- UNLOGGED, so crash recovery empties them while stage_runs (logged) remains.
SELECT r.row_count, r.read_started_at, r.read_started_wh, r.read_ended_at, r.complete
FROM ploomes_sync.stage_runs AS r
WHERE r.run_id = %(run_id)s
  AND r.stream = %(stream)s
  AND (r.row_count = 0 OR EXISTS (SELECT 1 FROM {stage} AS s WHERE s.run_id = r.run_id));

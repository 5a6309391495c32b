-- A claimed run takes its claim: the promise is kept (or broken) once.
DELETE FROM ploomes_sync.backfill_claims WHERE interval_start = %(interval_start)s AND claimed_by <> %(run_id)s;

-- The record ids a run set aside for a stream (those that name one).
SELECT DISTINCT record_id FROM ploomes_sync.rejects
WHERE run_id = %(run_id)s AND stream = %(stream)s AND record_id IS NOT NULL;

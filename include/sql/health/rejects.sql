-- The latest records set aside, with their reason.
SELECT rejected_at, run_id, stream, record_id, reason
FROM ploomes_sync.rejects
ORDER BY rejected_at DESC, id DESC
LIMIT %(limit)s;

-- The claim on one run's logical date, and the status of the run that made it.
SELECT c.claimed_by, c.range_start, c.range_end, h.status
FROM ploomes_sync.backfill_claims c
LEFT JOIN ploomes_sync.run_history h ON h.run_id = c.claimed_by
WHERE c.interval_start = %(interval_start)s;

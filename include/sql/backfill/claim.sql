-- Claim these logical dates for one run's re-sync of [range_start, range_end); dates claimed by another
-- run stay with it, and the run's own claims take the new range (a claimer planning again).
INSERT INTO ploomes_sync.backfill_claims AS c (interval_start, claimed_by, range_start, range_end)
SELECT d, %(run_id)s, %(range_start)s, %(range_end)s
FROM unnest(%(dates)s::timestamptz[]) AS d
ON CONFLICT (interval_start) DO UPDATE SET
    range_start = EXCLUDED.range_start,
    range_end   = EXCLUDED.range_end,
    claimed_at  = clock_timestamp()
WHERE c.claimed_by = EXCLUDED.claimed_by;

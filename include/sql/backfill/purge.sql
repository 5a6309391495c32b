-- Claims older than the given hours are no promise any more (their runs never came: a cancelled or
-- deleted backfill); a run that finds none re-syncs its own interval.
DELETE FROM ploomes_sync.backfill_claims WHERE claimed_at < clock_timestamp() - make_interval(secs => %(hours)s * 3600);

-- A backfill's runs share one re-sync: the first of them to plan claims the logical dates of the
-- backfill's other runs (the consecutive ones Airflow has queued or running) and re-syncs their whole
-- range at once; each claimed run finds its claim, takes it, and ends in that one task.
CREATE TABLE IF NOT EXISTS ploomes_sync.backfill_claims (
    interval_start timestamptz PRIMARY KEY,                   -- a claimed run's logical date
    claimed_by     text NOT NULL,                             -- the run that re-syncs it
    range_start    timestamptz NOT NULL,                      -- what that run re-syncs
    range_end      timestamptz NOT NULL,
    claimed_at     timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX IF NOT EXISTS backfill_claims_claimed_at_idx ON ploomes_sync.backfill_claims (claimed_at);

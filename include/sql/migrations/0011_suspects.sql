-- Records the sync has reason to doubt: the check found them different from what Ploomes listed, or
-- a run could not read them all again. Every run reads them again by Id (reconcile_deletions) and
-- forgets those it finds as Ploomes has them.
CREATE TABLE IF NOT EXISTS ploomes_sync.suspects (
    stream    text NOT NULL,
    id        bigint NOT NULL,
    reason    text NOT NULL,
    found_by  text NOT NULL,                                  -- the run that found it
    found_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (stream, id)
);

-- A read that got fewer records than Ploomes counted for it (some left out of a page, or deleted while
-- it read), or none at all, does not move its stream's watermark: the next run reads the same window.
ALTER TABLE ploomes_sync.stage_runs ADD COLUMN IF NOT EXISTS complete boolean NOT NULL DEFAULT true;

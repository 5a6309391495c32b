-- When a read ended in Ploomes' clock (the latest Date of its answers, plus the margin of their
-- whole seconds): no record it read was changed later than that, so a LastUpdateDate after it is a
-- date ahead of Ploomes' own clock (a clock glitch, an import that set the dates). The merge's
-- stale-write guard and the check tell such dates from real changes with it. Only ploomes_sync changes.
ALTER TABLE ploomes_sync.stage_runs ADD COLUMN IF NOT EXISTS read_ended_at timestamptz;
ALTER TABLE ploomes_sync.listings ADD COLUMN IF NOT EXISTS read_ended_at timestamptz;

-- Runs whose staging was last written longer ago than the given interval (abandoned runs).
SELECT DISTINCT run_id FROM ploomes_sync.stage_runs
WHERE staged_at < clock_timestamp() - %(older_than)s::interval
ORDER BY run_id;

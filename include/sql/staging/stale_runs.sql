-- Runs whose staging was last written longer ago than the given interval (abandoned runs).
SELECT DISTINCT run_key FROM ploomes_sync.stage_runs WHERE staged_at < now() - %(older_than)s::interval ORDER BY run_key;

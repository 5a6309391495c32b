-- The run's deal listing taken from its own deals staging: a full or range run's extract already
-- read every deal in its scope, so validate_by_year needs no second pass over the API.
INSERT INTO ploomes_sync.stage_deal_listing (run_key, id, created_at, status, deal_value, updated_at)
SELECT run_key, id, created_at, status, deal_value, updated_at
FROM ploomes_sync.stage_deals
WHERE run_key = %(run_key)s;

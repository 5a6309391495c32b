-- The latest per-year table a run recorded: Ploomes against the warehouse.
SELECT run_id, finished_at, year_table
FROM ploomes_sync.run_history
WHERE year_table IS NOT NULL
ORDER BY started_at DESC
LIMIT 1;

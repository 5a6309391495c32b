-- The per-year table of the newest check that compared every deal (a full run, or a full listing),
-- Ploomes against the warehouse: a date-range run's or a count listing's covers part of the years.
SELECT run_id, finished_at, year_table
FROM ploomes_sync.run_history
WHERE year_table IS NOT NULL
  AND coalesce((checks -> 'deals' ->> 'every_record')::boolean, checks -> 'deals' ->> 'scope' = 'every record')
ORDER BY started_at DESC
LIMIT 1;

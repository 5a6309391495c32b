-- When the last successful whole-account check (deletion reconcile and per-year comparison) ended:
-- full and incremental runs that recorded a year table. Range runs check only their range.
SELECT max(finished_at)
FROM ploomes_sync.run_history
WHERE status = 'success'
  AND mode IN ('full', 'incremental')
  AND year_table IS NOT NULL;

-- How fresh the warehouse is: the warehouse's clock now, the end of the last successful run that
-- read every change (incremental or full; a date-range run or a backfill reads one CreateDate
-- range, a webhook apply some records), and the start of the last run of any sync mode.
SELECT clock_timestamp() AS now,
       (SELECT max(finished_at) FROM ploomes_sync.run_history
        WHERE status = 'success' AND mode IN ('incremental', 'full')) AS last_success,
       (SELECT max(started_at) FROM ploomes_sync.run_history
        WHERE run_type IS DISTINCT FROM 'webhook') AS last_started;

-- Rows archived as gone from Ploomes in the last %(days)s days, newest first (at most %(limit)s).
SELECT deleted_at, 'sales' AS "table", id, run_id
FROM ploomes_sync.deleted_sales
WHERE deleted_at > clock_timestamp() - make_interval(days => %(days)s)
UNION ALL
SELECT deleted_at, 'customers', id, run_id
FROM ploomes_sync.deleted_customers
WHERE deleted_at > clock_timestamp() - make_interval(days => %(days)s)
ORDER BY deleted_at DESC
LIMIT %(limit)s;

-- Template (one stream's archive): its rows archived as gone from Ploomes in the last %(days)s
-- days, newest first (at most %(limit)s); the report merges the streams'.
SELECT deleted_at, %(table)s::text AS "table", id, run_id
FROM {archive}
WHERE deleted_at > clock_timestamp() - make_interval(days => %(days)s)
ORDER BY deleted_at DESC
LIMIT %(limit)s;

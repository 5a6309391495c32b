-- Template (the fields stream): the keys of the custom fields this run archived, by the entity
-- whose records carry their values.
SELECT entity, array_agg(key ORDER BY key)
FROM {archive}
WHERE run_id = %(run_id)s AND id = ANY(%(ids)s::bigint[]) AND key IS NOT NULL
GROUP BY entity;

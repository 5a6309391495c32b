-- Template: which of the given ids a stream's public table holds.
SELECT coalesce(array_agg(id), '{{}}') FROM {target} WHERE id = ANY(%(ids)s::bigint[]);

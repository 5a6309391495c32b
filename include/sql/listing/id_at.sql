-- Template: the id at a position (1: the lowest) of a stream's public table within (id_after,
-- id_upto], where a count listing cuts a range; null when the range holds fewer rows.
SELECT id
FROM {target}
WHERE (%(id_after)s::bigint IS NULL OR id > %(id_after)s::bigint)
  AND (%(id_upto)s::bigint IS NULL OR id <= %(id_upto)s::bigint)
ORDER BY id
OFFSET %(position)s::bigint - 1
LIMIT 1;

-- Template: rows of a stream's public table with id in (id_after, id_upto] (null: unbounded),
-- updated in Ploomes before the given instant (the other side of a count of Ploomes' records).
SELECT count(*)
FROM {target}
WHERE (%(id_after)s::bigint IS NULL OR id > %(id_after)s::bigint)
  AND (%(id_upto)s::bigint IS NULL OR id <= %(id_upto)s::bigint)
  AND updated_at < %(before)s::timestamptz;

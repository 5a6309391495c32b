-- Template: rows of a stream's public table with id in (id_after, id_upto] (null: unbounded), the
-- other side of a count of Ploomes' records in the same range.
SELECT count(*)
FROM {target}
WHERE (%(id_after)s::bigint IS NULL OR id > %(id_after)s::bigint)
  AND (%(id_upto)s::bigint IS NULL OR id <= %(id_upto)s::bigint);

-- Template: the middle id of a stream's public table within (id_after, id_upto], where a range is cut in two.
SELECT percentile_disc(0.5) WITHIN GROUP (ORDER BY id)
FROM {target}
WHERE (%(id_after)s::bigint IS NULL OR id > %(id_after)s::bigint)
  AND (%(id_upto)s::bigint IS NULL OR id <= %(id_upto)s::bigint);

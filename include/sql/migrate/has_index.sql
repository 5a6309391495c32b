-- Whether a table has an index on exactly these columns, in this order (whatever its name).
SELECT EXISTS (
    SELECT 1
    FROM pg_index AS i
    WHERE i.indrelid = to_regclass(%(table)s)
      AND (SELECT array_agg(a.attname::text ORDER BY k.n)
           FROM unnest(i.indkey) WITH ORDINALITY AS k(attnum, n)
           JOIN pg_attribute AS a ON a.attrelid = i.indrelid AND a.attnum = k.attnum) = %(columns)s::text[]
);

-- A listing's Id ranges, in one statement (parallel arrays, one element per range).
INSERT INTO ploomes_sync.listing_ranges (run_id, stream, id_after, id_upto, listed, ploomes_count, warehouse_count)
SELECT %(run_id)s, %(stream)s, r.id_after, r.id_upto, r.listed, r.ploomes_count, r.warehouse_count
FROM unnest(%(id_after)s::bigint[], %(id_upto)s::bigint[], %(listed)s::boolean[], %(ploomes_count)s::bigint[],
            %(warehouse_count)s::bigint[]) AS r(id_after, id_upto, listed, ploomes_count, warehouse_count);

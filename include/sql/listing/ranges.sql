SELECT id_after, id_upto, listed, ploomes_count, warehouse_count
FROM ploomes_sync.listing_ranges
WHERE run_id = %(run_id)s AND stream = %(stream)s
ORDER BY id_after NULLS FIRST;

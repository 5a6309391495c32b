INSERT INTO ploomes_sync.listing_ranges (run_id, stream, id_after, id_upto, listed, ploomes_count, warehouse_count)
VALUES (%(run_id)s, %(stream)s, %(id_after)s, %(id_upto)s, %(listed)s, %(ploomes_count)s, %(warehouse_count)s);

-- Forget a run's listing of a stream and its ranges (a retried listing starts over).
WITH ranges AS (
    DELETE FROM ploomes_sync.listing_ranges WHERE run_id = %(run_id)s AND stream = %(stream)s
)
DELETE FROM ploomes_sync.listings WHERE run_id = %(run_id)s AND stream = %(stream)s;

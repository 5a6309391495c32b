-- Id ranges of listings older than the given interval: only the run that made them reads them.
DELETE FROM ploomes_sync.listing_ranges AS r
USING ploomes_sync.listings AS l
WHERE l.run_id = r.run_id AND l.stream = r.stream AND l.started_wh < clock_timestamp() - %(older_than)s::interval;

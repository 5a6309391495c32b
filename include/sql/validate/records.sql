-- Template (ploomes_sync.warehouse.statements fills the tables and column lists from the stream's
-- spec): a run's listing of a stream (what Ploomes holds) against its public table, record by
-- record, over what the listing covers (its listed Id ranges and a date-range run's CreateDate
-- scope). Each record falls in one class; 'equal' and 'differs' are compared. The others are left
-- out, each counted:
--   rejected        this run set the record aside, in its listing or its extract (a line of an
--                   order the listing does not read): its last good version stays;
--   written_since   another run wrote the row after this listing began (the warehouse's clock);
--   archived_since  another run archived it as gone after this listing began (the warehouse's clock);
--   changed_since   Ploomes changed it after this run read it: LastUpdateDate, on either side, at
--                   or after the run's read began and not after the listing's read ended (Ploomes'
--                   clock). The next run reads it. A date after the listing ended is ahead of
--                   Ploomes' own clock (a glitch, an import), not a change: such a record is compared.
-- What Ploomes holds is the listing, or, for a record the run read again by Id after it (the
-- reconcile's confirming read, staged under %(confirm_id)s), that later read.
-- Counted per São Paulo year of the stream's year column, with the sum of its amount on each side
-- ({year} and {amount_l}/{amount_w} are NULL for a stream without them).
WITH listing AS (
    SELECT DISTINCT ON (id) {listed}
    FROM (SELECT {listed}, 1 AS read FROM {listing} WHERE run_id = %(run_id)s
          UNION ALL
          SELECT {listed}, 0 AS read FROM {stage} AS t
          WHERE t.run_id = %(confirm_id)s  -- what the listing covers, as below
            AND (%(created_from)s::timestamptz IS NULL OR {t_created} >= %(created_from)s::timestamptz)
            AND (%(created_to)s::timestamptz IS NULL OR {t_created} < %(created_to)s::timestamptz)
            AND EXISTS (SELECT 1 FROM ploomes_sync.listing_ranges AS r
                        WHERE r.run_id = %(run_id)s AND r.stream = %(stream)s AND r.listed
                          AND (r.id_after IS NULL OR t.id > r.id_after)
                          AND (r.id_upto IS NULL OR t.id <= r.id_upto))) AS reads
    ORDER BY id, read, updated_at DESC NULLS LAST
),
covered AS (
    SELECT {listed}, t.synced_at
    FROM {target} AS t
    WHERE (%(created_from)s::timestamptz IS NULL OR {t_created} >= %(created_from)s::timestamptz)
      AND (%(created_to)s::timestamptz IS NULL OR {t_created} < %(created_to)s::timestamptz)
      AND EXISTS (SELECT 1 FROM ploomes_sync.listing_ranges AS r
                  WHERE r.run_id = %(run_id)s AND r.stream = %(stream)s AND r.listed
                    AND (r.id_after IS NULL OR t.id > r.id_after)
                    AND (r.id_upto IS NULL OR t.id <= r.id_upto))
),
paired AS (
    SELECT coalesce(l.id, w.id) AS id,
           l.id IS NOT NULL AS in_ploomes,
           w.id IS NOT NULL AS in_warehouse,
           ({listed_l}) IS NOT DISTINCT FROM ({listed_w}) AS same,
           {year} AS year,
           l.updated_at AS ploomes_updated,
           w.updated_at AS warehouse_updated,
           w.synced_at,
           {amount_l} AS ploomes_amount,
           {amount_w} AS warehouse_amount
    FROM listing AS l
    FULL JOIN covered AS w ON w.id = l.id
),
classified AS (
    SELECT p.*,
           CASE
               WHEN p.in_ploomes AND p.in_warehouse AND p.same THEN 'equal'
               WHEN EXISTS (SELECT 1 FROM ploomes_sync.rejects AS x
                            WHERE x.run_id IN (%(run_id)s, %(confirm_id)s)
                              AND x.stream IN (%(reject_stream)s, %(stream)s)
                              AND x.record_id = p.id::text) THEN 'rejected'
               WHEN p.in_warehouse AND p.synced_at >= %(started_wh)s::timestamptz THEN 'written_since'
               WHEN NOT p.in_warehouse AND EXISTS (
                        SELECT 1 FROM {archive} AS d
                        WHERE d.id = p.id AND d.deleted_at >= %(started_wh)s::timestamptz
                          AND d.run_id IS DISTINCT FROM %(run_id)s) THEN 'archived_since'
               WHEN p.ploomes_updated BETWEEN %(read_started_at)s::timestamptz AND %(changed_until)s::timestamptz
                 OR p.warehouse_updated BETWEEN %(read_started_at)s::timestamptz AND %(changed_until)s::timestamptz
                   THEN 'changed_since'
               ELSE 'differs'
           END AS class
    FROM paired AS p
)
SELECT year,
       class,
       count(*) AS records,
       count(*) FILTER (WHERE in_ploomes) AS ploomes_records,
       count(*) FILTER (WHERE in_warehouse) AS warehouse_records,
       coalesce(sum(ploomes_amount), 0)::numeric(17,2) AS ploomes_amount,
       coalesce(sum(warehouse_amount), 0)::numeric(17,2) AS warehouse_amount,
       array_agg(id ORDER BY id) FILTER (WHERE class = 'differs') AS differing_ids
FROM classified
GROUP BY year, class
ORDER BY year NULLS LAST, class;

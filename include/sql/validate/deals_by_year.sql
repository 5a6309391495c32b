-- Template ({listing}: the staging table holding the run's deal listing). Per São Paulo year of
-- created_at: the listing (Ploomes) against public.sales, deal by deal, over what the listing
-- covers (its listed Id ranges and a date-range run's CreateDate scope). Each deal falls in one
-- class; 'equal' and 'differs' are compared, and one deal that differs makes its year a mismatch.
-- The others are left out, each counted:
--   rejected        this run set the record aside (its last good version stays);
--   written_since   another run wrote the row after this listing began (the warehouse's clock);
--   archived_since  another run archived it as gone after this listing began (the warehouse's clock);
--   changed_since   Ploomes changed it after this run read it: LastUpdateDate, on either side, at
--                   or after the run's read began and not after the listing's read ended (Ploomes'
--                   clock). The next run reads it. A date after the listing ended is ahead of
--                   Ploomes' own clock (a glitch, an import), not a change: such a record is compared.
-- validate/rows.sql classifies any stream's records the same way.
WITH listing AS (
    SELECT DISTINCT ON (id) id, updated_at, created_at, customer_id, status, won, deal_value
    FROM {listing}
    WHERE run_id = %(run_id)s
    ORDER BY id, updated_at DESC NULLS LAST
),
covered AS (
    SELECT s.id, s.updated_at, s.created_at, s.customer_id, s.status, s.won, s.deal_value, s.synced_at
    FROM public.sales AS s
    WHERE (%(created_from)s::timestamptz IS NULL OR s.created_at >= %(created_from)s::timestamptz)
      AND (%(created_to)s::timestamptz IS NULL OR s.created_at < %(created_to)s::timestamptz)
      AND EXISTS (SELECT 1 FROM ploomes_sync.listing_ranges AS r
                  WHERE r.run_id = %(run_id)s AND r.stream = 'deals' AND r.listed
                    AND (r.id_after IS NULL OR s.id > r.id_after)
                    AND (r.id_upto IS NULL OR s.id <= r.id_upto))
),
paired AS (
    SELECT coalesce(l.id, w.id) AS id,
           l.id IS NOT NULL AS in_ploomes,
           w.id IS NOT NULL AS in_warehouse,
           (l.updated_at, l.created_at, l.customer_id, l.status, l.won, l.deal_value)
               IS NOT DISTINCT FROM
           (w.updated_at, w.created_at, w.customer_id, w.status, w.won, w.deal_value) AS same,
           extract(year FROM coalesce(l.created_at, w.created_at) AT TIME ZONE %(tz)s)::integer AS year,
           l.updated_at AS ploomes_updated,
           w.updated_at AS warehouse_updated,
           w.synced_at,
           CASE WHEN l.won THEN l.deal_value END AS ploomes_won_value,
           CASE WHEN w.won THEN w.deal_value END AS warehouse_won_value
    FROM listing AS l
    FULL JOIN covered AS w ON w.id = l.id
),
classified AS (
    SELECT p.*,
           CASE
               WHEN p.in_ploomes AND p.in_warehouse AND p.same THEN 'equal'
               WHEN EXISTS (SELECT 1 FROM ploomes_sync.rejects AS x
                            WHERE x.run_id = %(run_id)s AND x.stream = %(reject_stream)s
                              AND x.record_id = p.id::text) THEN 'rejected'
               WHEN p.in_warehouse AND p.synced_at >= %(started_wh)s::timestamptz THEN 'written_since'
               WHEN NOT p.in_warehouse AND EXISTS (
                        SELECT 1 FROM ploomes_sync.deleted_sales AS d
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
       count(*) AS deals,
       count(*) FILTER (WHERE in_ploomes) AS ploomes_deals,
       count(*) FILTER (WHERE in_warehouse) AS warehouse_deals,
       coalesce(sum(ploomes_won_value), 0)::numeric(17,2) AS ploomes_won_revenue,
       coalesce(sum(warehouse_won_value), 0)::numeric(17,2) AS warehouse_won_revenue,
       (array_agg(id ORDER BY id) FILTER (WHERE class = 'differs'))[1:5] AS examples
FROM classified
GROUP BY year, class
ORDER BY year NULLS LAST, class;

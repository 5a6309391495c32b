-- Template ({listing}, {target}, {archive}, and the stream's listed columns): a stream's listing
-- against its public table, record by record, over the Id ranges it listed, in the classes of
-- validate/deals_by_year.sql (its comment says what each means), counted.
WITH listing AS (
    SELECT DISTINCT ON (id) {listed}
    FROM {listing}
    WHERE run_id = %(run_id)s
    ORDER BY id, updated_at DESC NULLS LAST
),
covered AS (
    SELECT {listed}, synced_at
    FROM {target} AS t
    WHERE EXISTS (SELECT 1 FROM ploomes_sync.listing_ranges AS r
                  WHERE r.run_id = %(run_id)s AND r.stream = %(stream)s AND r.listed
                    AND (r.id_after IS NULL OR t.id > r.id_after)
                    AND (r.id_upto IS NULL OR t.id <= r.id_upto))
),
paired AS (
    SELECT coalesce(l.id, w.id) AS id,
           l.id IS NOT NULL AS in_ploomes,
           w.id IS NOT NULL AS in_warehouse,
           ({listed_l}) IS NOT DISTINCT FROM ({listed_w}) AS same,
           l.updated_at AS ploomes_updated,
           w.updated_at AS warehouse_updated,
           w.synced_at
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
SELECT class,
       count(*),
       count(*) FILTER (WHERE in_ploomes),
       count(*) FILTER (WHERE in_warehouse),
       (array_agg(id ORDER BY id) FILTER (WHERE class = 'differs'))[1:5]
FROM classified
GROUP BY class
ORDER BY class;

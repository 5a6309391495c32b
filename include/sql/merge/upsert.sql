-- Template (ploomes_sync.warehouse.statements fills the names and column lists from the stream's
-- spec): one run's staged rows of a stream -> its public table, in one statement.
-- The newest staged version of each id wins; an older version never overwrites a newer row, and an
-- identical one is left alone (its synced_at too). A row the sync never wrote (no synced_at: an older
-- tool's, whatever dates it stamped) is no evidence against Ploomes: what Ploomes answers wins. Which
-- version is newer is decided by when each was read, then by LastUpdateDate: a read that began after
-- the row was written (the warehouse's clock) saw it or a later version, so it wins whatever the dates say; otherwise (runs that overlap) the
-- later LastUpdateDate wins, unless the staged one is after the read ended (Ploomes' clock): a date
-- ahead of Ploomes' own clock (a glitch, an import) orders nothing. A row archived as gone after this run's read
-- began (another run found it deleted after this run read it) is not put back.
-- Returns (distinct staged ids, inserted, updated, customers whose customer_sales row may change).
WITH staged AS (
    SELECT DISTINCT ON (id) {columns}
    FROM {stage}
    WHERE run_id = %(run_id)s
    ORDER BY id, updated_at DESC NULLS LAST
),
before AS (
    SELECT t.id, {t_customer} AS customer
    FROM {target} AS t
    JOIN staged AS st ON st.id = t.id
),
written AS (
    INSERT INTO {target} AS t ({columns}, synced_at)
    SELECT {columns}, clock_timestamp()
    FROM staged AS st
    WHERE NOT EXISTS (SELECT 1 FROM {archive} AS d
                      WHERE d.id = st.id AND d.deleted_at >= %(read_started_wh)s::timestamptz)
    ORDER BY id
    ON CONFLICT (id) DO UPDATE SET {assignments}, synced_at = EXCLUDED.synced_at
    WHERE (t.synced_at IS NULL OR t.synced_at < %(read_started_wh)s::timestamptz
           OR ((t.updated_at IS NULL OR t.updated_at <= EXCLUDED.updated_at)
               AND (%(read_ended_at)s::timestamptz IS NULL OR EXCLUDED.updated_at <= %(read_ended_at)s::timestamptz)))
      AND ({target_columns}) IS DISTINCT FROM ({excluded_columns})
    RETURNING t.id, (xmax = 0) AS inserted, {t_customer} AS customer
)
SELECT (SELECT count(*) FROM staged),
       (SELECT count(*) FROM written WHERE inserted),
       (SELECT count(*) FROM written WHERE NOT inserted),
       (SELECT array_agg(DISTINCT c.customer ORDER BY c.customer)
        FROM (SELECT w.customer FROM written AS w
              UNION ALL
              SELECT b.customer FROM before AS b JOIN written AS w ON w.id = b.id) AS c
        WHERE c.customer IS NOT NULL);

-- Template (ploomes_sync.warehouse.statements), run by the merge after the upsert, in its
-- transaction: the lines of the records the table now holds in the version this run staged replace
-- what the table had for them. A line Ploomes no longer shows on its record leaves the table; a line
-- unchanged is left alone (its synced_at too). Records the upsert did not take (a newer row is
-- kept, or the record was archived as gone) keep their lines. Returns (lines removed, written).
WITH chosen AS (
    SELECT DISTINCT ON (id) id, updated_at
    FROM {stage}
    WHERE run_id = %(run_id)s
    ORDER BY id, updated_at DESC NULLS LAST
),
taken AS (
    SELECT c.id, c.updated_at
    FROM chosen AS c
    JOIN {target} AS t ON t.id = c.id AND t.updated_at IS NOT DISTINCT FROM c.updated_at
),
staged AS (
    SELECT DISTINCT ON (s.id) {line_columns_s}
    FROM {line_stage} AS s
    JOIN taken AS k ON k.id = s.{parent_key} AND k.updated_at IS NOT DISTINCT FROM s.parent_updated_at
    WHERE s.run_id = %(run_id)s
    ORDER BY s.id
),
removed AS (
    DELETE FROM {lines} AS i
    USING taken AS k
    WHERE i.{parent_key} = k.id
      AND NOT EXISTS (SELECT 1 FROM staged AS s WHERE s.id = i.id)
    RETURNING i.id
),
written AS (
    INSERT INTO {lines} AS i ({line_columns}, synced_at)
    SELECT {line_columns}, clock_timestamp()
    FROM staged
    ORDER BY id
    ON CONFLICT (id) DO UPDATE SET {line_assignments}, synced_at = EXCLUDED.synced_at
    WHERE ({line_target_columns}) IS DISTINCT FROM ({line_excluded_columns})
    RETURNING i.id
)
SELECT (SELECT count(*) FROM removed), (SELECT count(*) FROM written);

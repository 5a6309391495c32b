-- Template (a stream with custom values): a custom field gone from Ploomes takes its values off
-- every record, as Ploomes itself does (without moving the records' LastUpdateDate, so no read
-- would bring the change). Returns the records changed.
WITH changed AS (
    UPDATE {target} AS t
    SET custom_fields = t.custom_fields - %(keys)s::text[], synced_at = clock_timestamp()
    WHERE t.custom_fields ?| %(keys)s::text[]
    RETURNING 1
)
SELECT count(*) FROM changed;

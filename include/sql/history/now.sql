-- The warehouse's clock: every comparison with synced_at, deleted_at or finished_at uses it.
SELECT clock_timestamp();

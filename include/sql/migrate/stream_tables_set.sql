-- Remember the fingerprint of the streams' own tables just made.
WITH cleared AS (DELETE FROM ploomes_sync.stream_tables)
INSERT INTO ploomes_sync.stream_tables (fingerprint) VALUES (%(fingerprint)s);

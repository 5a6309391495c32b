-- The fingerprint of the streams' own tables as last made.
SELECT fingerprint FROM ploomes_sync.stream_tables;

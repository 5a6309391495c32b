SELECT version FROM ploomes_sync.schema_migrations ORDER BY version;

SELECT EXISTS (SELECT 1 FROM ploomes_sync.schema_migrations WHERE version = %(version)s);

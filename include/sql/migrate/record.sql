INSERT INTO ploomes_sync.schema_migrations (version, name) VALUES (%(version)s, %(name)s);

-- The sync's own schema and the ledger of applied migrations (run under the migrations lock).
CREATE SCHEMA IF NOT EXISTS ploomes_sync;

CREATE TABLE IF NOT EXISTS ploomes_sync.schema_migrations (
    version    integer PRIMARY KEY,
    name       text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
);

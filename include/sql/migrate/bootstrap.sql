-- The sync's own schema and the ledger of applied migrations (run under the migrations lock).
-- The schema is created only when missing: CREATE SCHEMA IF NOT EXISTS would still demand CREATE
-- on the database, which the sync's role does not hold (include/sql/roles/least_privilege.sql
-- creates the schema, owned by the role).
DO $$
BEGIN
    IF to_regnamespace('ploomes_sync') IS NULL THEN
        CREATE SCHEMA ploomes_sync;
    END IF;
END
$$;

CREATE TABLE IF NOT EXISTS ploomes_sync.schema_migrations (
    version    integer PRIMARY KEY,
    name       text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
);

-- The objects of public the contract names, and whether the sync created them (else it found an
-- older one): the least-privilege script hands them over, the dashboard's step grants on them.
CREATE TABLE IF NOT EXISTS ploomes_sync.public_objects (
    name        text PRIMARY KEY,
    created     boolean NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT clock_timestamp()
);

-- The fingerprint of the streams' own tables as last made from their specs
-- (ploomes_sync.warehouse.stream_tables): a run whose specs match it has nothing to do.
CREATE TABLE IF NOT EXISTS ploomes_sync.stream_tables (
    fingerprint text NOT NULL,
    made_at     timestamptz NOT NULL DEFAULT clock_timestamp()
);

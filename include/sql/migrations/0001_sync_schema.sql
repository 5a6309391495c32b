-- The sync's own tables. Nothing here is exposed through Supabase's HTTP API: no grants are given.

COMMENT ON SCHEMA ploomes_sync IS 'Ploomes sync: staging, run history, watermarks, rejects, archive';

-- Staging: one run's typed rows, keyed by run_key. UNLOGGED: fast to write, and a crash only
-- loses what the retried extract writes again.
CREATE UNLOGGED TABLE IF NOT EXISTS ploomes_sync.stage_deals (
    run_key     text NOT NULL,
    id          bigint NOT NULL,
    customer_id bigint,
    title       text,
    deal_value  numeric(15,2),
    status      text,
    pipeline_id bigint,
    stage_id    bigint,
    owner_id    bigint,
    created_at  timestamptz,
    updated_at  timestamptz,
    closed_at   timestamptz
);
CREATE INDEX IF NOT EXISTS stage_deals_run_key_id_idx ON ploomes_sync.stage_deals (run_key, id);

CREATE UNLOGGED TABLE IF NOT EXISTS ploomes_sync.stage_contacts (
    run_key    text NOT NULL,
    id         bigint NOT NULL,
    name       text,
    legal_name text,
    cnpj       text,
    zip_code   text,
    is_client  boolean,
    created_at timestamptz,
    updated_at timestamptz
);
CREATE INDEX IF NOT EXISTS stage_contacts_run_key_id_idx ON ploomes_sync.stage_contacts (run_key, id);

CREATE UNLOGGED TABLE IF NOT EXISTS ploomes_sync.stage_deal_listing (
    run_key    text NOT NULL,
    id         bigint NOT NULL,
    created_at timestamptz,
    status     text,
    deal_value numeric(15,2),
    updated_at timestamptz
);
CREATE INDEX IF NOT EXISTS stage_deal_listing_run_key_id_idx ON ploomes_sync.stage_deal_listing (run_key, id);

-- Which run staged which stream, when, and how many rows: the merge refuses a stream whose
-- staging is gone (purged or never written), and housekeeping finds abandoned runs by it.
CREATE TABLE IF NOT EXISTS ploomes_sync.stage_runs (
    run_key   text NOT NULL,
    stream    text NOT NULL,
    row_count bigint NOT NULL DEFAULT 0,
    staged_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (run_key, stream)
);

-- Records set aside by records.py, with the reason and the record as it came.
CREATE TABLE IF NOT EXISTS ploomes_sync.rejects (
    id          bigserial PRIMARY KEY,
    run_key     text NOT NULL,
    stream      text NOT NULL,
    record_id   text,
    reason      text NOT NULL,
    raw         text,
    rejected_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS rejects_run_key_stream_idx ON ploomes_sync.rejects (run_key, stream);

-- Per stream ("deals", "contacts"): every record updated before this instant has been loaded.
CREATE TABLE IF NOT EXISTS ploomes_sync.watermarks (
    stream     text PRIMARY KEY,
    value      timestamptz NOT NULL,
    run_key    text,
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS ploomes_sync.run_history (
    run_key           text PRIMARY KEY,
    dag_id            text,
    run_type          text,
    mode              text,
    status            text NOT NULL DEFAULT 'running',
    started_at        timestamptz NOT NULL DEFAULT now(),
    finished_at       timestamptz,
    window_start      timestamptz,
    window_end        timestamptz,
    streams           jsonb NOT NULL DEFAULT '{}'::jsonb,
    api_requests      integer NOT NULL DEFAULT 0,
    throttled         integer NOT NULL DEFAULT 0,
    watermarks_before jsonb,
    watermarks_after  jsonb,
    year_table        jsonb,
    error             text
);
CREATE INDEX IF NOT EXISTS run_history_started_at_idx ON ploomes_sync.run_history (started_at);

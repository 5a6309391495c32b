-- The warehouse as migrations 0001 to 0008 leave a fresh database, written out once: what a new
-- database gets instead of replaying them (ploomes_sync.warehouse.migrate applies it, after the
-- helper functions (include/sql/migrate/helpers.sql), and records 0001 to 0008 as applied). A database that already has
-- public.sales, public.customers or public.customer_sales, or rows in the ledger, takes the
-- numbered path instead, which brings older shapes to the contract without losing a row.
-- tests/warehouse/test_baseline.py proves both paths end with the same catalogue.

COMMENT ON SCHEMA ploomes_sync IS 'Ploomes sync: staging, run history, watermarks, rejects, archive';

-- === public: what the dashboards read (docs/warehouse.md) ===================================
-- New tables in public would be reachable through Supabase's HTTP API with the project's default
-- grants: they start private (no privilege for PUBLIC nor the API roles, see the end of this file)
-- with row-level security on and no policy, until the dashboard's step grants the role it uses.

CREATE TABLE public.sales (
    id          bigint PRIMARY KEY,
    customer_id bigint,
    title       text,
    deal_value  numeric(15,2),
    status      text,
    won         boolean NOT NULL,
    pipeline_id bigint,
    stage_id    bigint,
    owner_id    bigint,
    created_at  timestamptz,
    updated_at  timestamptz,
    closed_at   timestamptz,
    synced_at   timestamptz DEFAULT now()
);
ALTER TABLE public.sales ENABLE ROW LEVEL SECURITY;
CREATE INDEX sales_customer_id_idx ON public.sales (customer_id);
CREATE INDEX sales_created_at_idx ON public.sales (created_at);

CREATE TABLE public.customers (
    id         bigint PRIMARY KEY,
    name       text,
    legal_name text,
    cnpj       text,
    zip_code   text,
    is_client  boolean,
    created_at timestamptz,
    updated_at timestamptz,
    synced_at  timestamptz DEFAULT now()
);
ALTER TABLE public.customers ENABLE ROW LEVEL SECURITY;

CREATE TABLE public.customer_sales (
    customer_id         bigint PRIMARY KEY,
    customer_name       text,
    customer_cnpj       text,
    total_deals         integer,
    won_deals           integer,
    total_sales         integer,
    total_revenue       numeric(15,2),
    average_deal_value  numeric(15,2),
    first_purchase_date timestamptz,
    last_purchase_date  timestamptz,
    last_sync_at        timestamptz
);
ALTER TABLE public.customer_sales ENABLE ROW LEVEL SECURITY;

-- === ploomes_sync: the sync's own tables (no grants: not exposed through Supabase's API) =======

-- Staging, one table per stream spec (ploomes_sync.streams): the stream's columns after run_id.
-- UNLOGGED: fast to write, and a crash only loses what the retried extract writes again.
CREATE UNLOGGED TABLE ploomes_sync.stage_deals (
    run_id      text NOT NULL,
    id          bigint NOT NULL,
    customer_id bigint,
    title       text,
    deal_value  numeric(15,2),
    status      text,
    won         boolean,
    pipeline_id bigint,
    stage_id    bigint,
    owner_id    bigint,
    created_at  timestamptz,
    updated_at  timestamptz,
    closed_at   timestamptz
);
CREATE INDEX stage_deals_run_id_id_idx ON ploomes_sync.stage_deals (run_id, id);

CREATE UNLOGGED TABLE ploomes_sync.stage_contacts (
    run_id     text NOT NULL,
    id         bigint NOT NULL,
    name       text,
    legal_name text,
    cnpj       text,
    zip_code   text,
    is_client  boolean,
    created_at timestamptz,
    updated_at timestamptz
);
CREATE INDEX stage_contacts_run_id_id_idx ON ploomes_sync.stage_contacts (run_id, id);

-- The listings' staging: every record of a stream (or of the Id ranges a count found different),
-- read lightly to find what Ploomes no longer has and to check the warehouse against.
CREATE UNLOGGED TABLE ploomes_sync.stage_deals_listing (
    run_id      text NOT NULL,
    id          bigint NOT NULL,
    updated_at  timestamptz,
    created_at  timestamptz,
    customer_id bigint,
    status      text,
    won         boolean,
    deal_value  numeric(15,2)
);
CREATE INDEX stage_deals_listing_run_id_id_idx ON ploomes_sync.stage_deals_listing (run_id, id);

CREATE UNLOGGED TABLE ploomes_sync.stage_contacts_listing (
    run_id     text NOT NULL,
    id         bigint NOT NULL,
    updated_at timestamptz
);
CREATE INDEX stage_contacts_listing_run_id_id_idx ON ploomes_sync.stage_contacts_listing (run_id, id);

-- What a read staged, complete once registered: the merge refuses a stream whose staging is gone.
-- read_started_at: Ploomes' clock when the read began (the watermark it may move to);
-- read_started_wh: the warehouse's clock then; read_ended_at: Ploomes' clock when it ended (a
-- LastUpdateDate after it is a date ahead of Ploomes' own clock).
CREATE TABLE ploomes_sync.stage_runs (
    run_id          text NOT NULL,
    stream          text NOT NULL,
    row_count       bigint NOT NULL DEFAULT 0,
    staged_at       timestamptz NOT NULL DEFAULT now(),
    read_started_at timestamptz,
    read_started_wh timestamptz,
    read_ended_at   timestamptz,
    PRIMARY KEY (run_id, stream)
);

-- Records set aside, with the reason and the record as it came.
CREATE TABLE ploomes_sync.rejects (
    id          bigserial PRIMARY KEY,
    run_id      text NOT NULL,
    stream      text NOT NULL,
    record_id   text,
    reason      text NOT NULL,
    raw         text,
    rejected_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX rejects_run_id_stream_idx ON ploomes_sync.rejects (run_id, stream);
CREATE INDEX rejects_rejected_at_idx ON ploomes_sync.rejects (rejected_at);

-- Per stream: every record updated before this instant has been loaded.
CREATE TABLE ploomes_sync.watermarks (
    stream     text PRIMARY KEY,
    value      timestamptz NOT NULL,
    run_id     text,
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE ploomes_sync.run_history (
    run_id            text PRIMARY KEY,
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
    error             text,
    checks            jsonb,                 -- what the check left out, and why
    listing           jsonb                  -- what the listing did
);
CREATE INDEX run_history_started_at_idx ON ploomes_sync.run_history (started_at);

-- Listings: one row per run and stream that listed (or whose extract is its listing), and the Id
-- ranges it covers: listed (every record in it staged) or counted (as many records in Ploomes as
-- in the warehouse, so none is gone).
CREATE TABLE ploomes_sync.listings (
    run_id              text NOT NULL,
    stream              text NOT NULL,
    source              text NOT NULL,       -- 'extract' or 'listing': the staging table that holds it
    method              text NOT NULL,       -- 'full', 'count', 'extract' or 'ids'
    started_wh          timestamptz NOT NULL, -- warehouse clock when it began: rows written since are spared
    read_started_at     timestamptz,         -- Ploomes' clock when it began ...
    created_from        timestamptz,         -- scope of a date-range run (CreateDate)
    created_to          timestamptz,
    requests            integer NOT NULL DEFAULT 0,
    listed              bigint NOT NULL DEFAULT 0,
    rejected            bigint NOT NULL DEFAULT 0,
    rejected_without_id bigint NOT NULL DEFAULT 0,
    read_ended_at       timestamptz,         -- ... and when it ended
    PRIMARY KEY (run_id, stream)
);

CREATE TABLE ploomes_sync.listing_ranges (
    run_id          text NOT NULL,
    stream          text NOT NULL,
    id_after        bigint,                  -- the range is (id_after, id_upto]; null: unbounded
    id_upto         bigint,
    listed          boolean NOT NULL,
    ploomes_count   bigint,
    warehouse_count bigint
);
CREATE INDEX listing_ranges_run_id_idx ON ploomes_sync.listing_ranges (run_id, stream);

-- Rows found gone from Ploomes: every public column as it was, when and by which run, and the
-- whole row as JSON (an older table may carry columns of its own). A record may be archived more
-- than once (deleted, restored, deleted again), so id is not a key.
CREATE TABLE ploomes_sync.deleted_sales (
    id          bigint NOT NULL,
    customer_id bigint,
    title       text,
    deal_value  numeric(15,2),
    status      text,
    won         boolean,
    pipeline_id bigint,
    stage_id    bigint,
    owner_id    bigint,
    created_at  timestamptz,
    updated_at  timestamptz,
    closed_at   timestamptz,
    synced_at   timestamptz,
    deleted_at  timestamptz NOT NULL DEFAULT now(),
    run_id      text,
    row_data    jsonb NOT NULL
);
CREATE INDEX deleted_sales_id_idx ON ploomes_sync.deleted_sales (id);
CREATE INDEX deleted_sales_deleted_at_idx ON ploomes_sync.deleted_sales (deleted_at);

CREATE TABLE ploomes_sync.deleted_customers (
    id         bigint NOT NULL,
    name       text,
    legal_name text,
    cnpj       text,
    zip_code   text,
    is_client  boolean,
    created_at timestamptz,
    updated_at timestamptz,
    synced_at  timestamptz,
    deleted_at timestamptz NOT NULL DEFAULT now(),
    run_id     text,
    row_data   jsonb NOT NULL
);
CREATE INDEX deleted_customers_id_idx ON ploomes_sync.deleted_customers (id);
CREATE INDEX deleted_customers_deleted_at_idx ON ploomes_sync.deleted_customers (deleted_at);

-- The account's API budget, shared by every process that calls Ploomes: the start of the next
-- free request slot, in the warehouse's clock.
CREATE TABLE ploomes_sync.api_budget (
    account   text PRIMARY KEY,
    next_slot timestamptz NOT NULL DEFAULT clock_timestamp()
);

-- Every valid webhook delivery, as received, until (and after) it was applied. The receiver
-- commits before it answers 2xx; the applier re-reads the record by Id (the payload is kept for
-- audit, never trusted).
CREATE TABLE ploomes_sync.webhook_inbox (
    id           bigserial PRIMARY KEY,
    received_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
    stream       text NOT NULL CHECK (stream IN ('deals', 'contacts')),
    record_id    bigint NOT NULL,
    action       text,
    payload      jsonb NOT NULL,
    applied_at   timestamptz,
    apply_run_id text,
    outcome      text
);
CREATE INDEX webhook_inbox_pending_idx ON ploomes_sync.webhook_inbox (id) WHERE applied_at IS NULL;
CREATE INDEX webhook_inbox_applied_at_idx ON ploomes_sync.webhook_inbox (applied_at);

-- The stale-data alerts sent: one per breach, named by the last success it follows.
CREATE TABLE ploomes_sync.stale_alerts (
    last_success timestamptz PRIMARY KEY,
    alerted_at   timestamptz NOT NULL DEFAULT clock_timestamp(),
    stale_for    interval NOT NULL,
    recipients   text NOT NULL
);

-- === what the sync created in public: private until the dashboard's step =====================
SELECT ploomes_sync.public_object(name, true) FROM unnest(ARRAY['sales', 'customers', 'customer_sales']) AS name;

-- The sync's own schema for stream specs, listings, contact deletions and the shared API budget.
-- Only ploomes_sync changes here; public is untouched.

-- 1. A run is known by Airflow's run_id: the column says so everywhere.
DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['stage_runs', 'rejects', 'watermarks', 'run_history', 'deleted_sales'] LOOP
        IF EXISTS (SELECT 1 FROM information_schema.columns
                   WHERE table_schema = 'ploomes_sync' AND table_name = t AND column_name = 'run_key') THEN
            EXECUTE format('ALTER TABLE ploomes_sync.%I RENAME COLUMN run_key TO run_id', t);
        END IF;
    END LOOP;
END
$$;
ALTER INDEX IF EXISTS ploomes_sync.rejects_run_key_stream_idx RENAME TO rejects_run_id_stream_idx;

-- 2. Staging, one table per stream spec (ploomes_sync.streams): the stream's columns after run_id.
--    Staging only ever holds the rows of runs under way, so it is rebuilt rather than altered.
DROP TABLE IF EXISTS ploomes_sync.stage_deals, ploomes_sync.stage_contacts, ploomes_sync.stage_deal_listing;
DELETE FROM ploomes_sync.stage_runs;

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

-- The listings: every record of a stream (or of the Id ranges a count found different), read
-- lightly to find what Ploomes no longer has and to check the warehouse against.
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

-- What a read staged: complete once registered. read_started_at is Ploomes' clock when the read
-- began (the Date of its first answer): the watermark it may move to. read_started_wh is the
-- warehouse's clock then: a row archived after it was found gone after this read saw it.
ALTER TABLE ploomes_sync.stage_runs
    ADD COLUMN IF NOT EXISTS read_started_at timestamptz,
    ADD COLUMN IF NOT EXISTS read_started_wh timestamptz;

-- 3. Listings: one row per run and stream that listed (or whose extract is its listing), and the
--    Id ranges it covers. A range is either listed (every record in it staged) or counted (Ploomes
--    and the warehouse hold as many records updated before the read began, so none is gone).
CREATE TABLE IF NOT EXISTS ploomes_sync.listings (
    run_id          text NOT NULL,
    stream          text NOT NULL,
    source          text NOT NULL,           -- 'extract' or 'listing': the staging table that holds it
    method          text NOT NULL,           -- 'full', 'count' or 'extract'
    started_wh      timestamptz NOT NULL,    -- warehouse clock when it began: rows written since are spared
    read_started_at timestamptz,             -- Ploomes' clock when it began
    created_from    timestamptz,             -- scope of a date-range run (CreateDate)
    created_to      timestamptz,
    requests        integer NOT NULL DEFAULT 0,
    listed          bigint NOT NULL DEFAULT 0,
    rejected        bigint NOT NULL DEFAULT 0,
    rejected_without_id bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (run_id, stream)
);

CREATE TABLE IF NOT EXISTS ploomes_sync.listing_ranges (
    run_id          text NOT NULL,
    stream          text NOT NULL,
    id_after        bigint,                  -- the range is (id_after, id_upto]; null: unbounded
    id_upto         bigint,
    listed          boolean NOT NULL,
    ploomes_count   bigint,
    warehouse_count bigint
);
CREATE INDEX IF NOT EXISTS listing_ranges_run_id_idx ON ploomes_sync.listing_ranges (run_id, stream);

-- 4. Contacts gone from Ploomes, kept like deals: every public.customers column as it was, when it
--    was found gone and by which run, and the whole row as JSON.
CREATE TABLE IF NOT EXISTS ploomes_sync.deleted_customers (
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
CREATE INDEX IF NOT EXISTS deleted_customers_id_idx ON ploomes_sync.deleted_customers (id);
CREATE INDEX IF NOT EXISTS deleted_customers_deleted_at_idx ON ploomes_sync.deleted_customers (deleted_at);

-- 5. The account's API budget, shared by every process that calls Ploomes (the DAG's tasks on any
--    worker, the webhook applier): the start of the next free request slot, in the warehouse's clock.
CREATE TABLE IF NOT EXISTS ploomes_sync.api_budget (
    account   text PRIMARY KEY,
    next_slot timestamptz NOT NULL DEFAULT clock_timestamp()
);

-- 6. The run history says what the check left out and why, and what the listing did.
ALTER TABLE ploomes_sync.run_history
    ADD COLUMN IF NOT EXISTS checks jsonb,
    ADD COLUMN IF NOT EXISTS listing jsonb;

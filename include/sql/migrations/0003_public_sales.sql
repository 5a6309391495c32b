-- public.sales per the contract: created when missing, otherwise brought to it in place (an older
-- table from a previous tool keeps every row, its grants, policies and RLS setting).

-- Created here only when missing. A new table in public is reachable through Supabase's HTTP API
-- with the project's default grants: it starts private (no privilege for PUBLIC nor the API roles)
-- with row-level security on, until the dashboard's step (include/sql/roles/dashboard_read.sql).
-- A table that already exists keeps its grants and RLS setting untouched.
DO $$
BEGIN
    IF to_regclass('public.sales') IS NULL THEN
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
        PERFORM ploomes_sync.public_object('sales', true);  -- private until the dashboard's step
    END IF;
    PERFORM ploomes_sync.public_object('sales', false);  -- an older table: its grants stay
END
$$;

SELECT ploomes_sync.conform_table('sales', '[
    ["id", "bigint"], ["customer_id", "bigint"], ["title", "text"], ["deal_value", "numeric(15,2)"],
    ["status", "text", "status"], ["won", "boolean"], ["pipeline_id", "bigint"], ["stage_id", "bigint"],
    ["owner_id", "bigint"], ["created_at", "timestamp with time zone"],
    ["updated_at", "timestamp with time zone"], ["closed_at", "timestamp with time zone"],
    ["synced_at", "timestamp with time zone"]
]');
SELECT ploomes_sync.ensure_key('sales', 'id');

-- Older rows: status in the contract's spelling, won from status (unknown status: not won).
UPDATE public.sales SET status = lower(btrim(status))
WHERE status <> lower(btrim(status)) AND lower(btrim(status)) IN ('open', 'won', 'lost');
UPDATE public.sales SET won = coalesce(status = 'won', false) WHERE won IS NULL;
ALTER TABLE public.sales ALTER COLUMN won SET NOT NULL, ALTER COLUMN synced_at SET DEFAULT now();

SELECT ploomes_sync.relax_not_null('sales', ARRAY['id', 'won'], ARRAY[
    'id', 'customer_id', 'title', 'deal_value', 'status', 'won', 'pipeline_id', 'stage_id', 'owner_id',
    'created_at', 'updated_at', 'closed_at', 'synced_at'
]);

-- What the dashboards filter and join on.
CREATE INDEX IF NOT EXISTS sales_customer_id_idx ON public.sales (customer_id);
CREATE INDEX IF NOT EXISTS sales_created_at_idx ON public.sales (created_at);

-- Deals found gone from Ploomes: every public.sales column as it was, when it was found gone and
-- by which run, and the whole row as JSON (an older table may carry columns of its own). A deal
-- may be archived more than once (deleted, restored, deleted again), so id is not a key.
CREATE TABLE IF NOT EXISTS ploomes_sync.deleted_sales (
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
    run_key     text,
    row_data    jsonb NOT NULL
);
CREATE INDEX IF NOT EXISTS deleted_sales_id_idx ON ploomes_sync.deleted_sales (id);
CREATE INDEX IF NOT EXISTS deleted_sales_deleted_at_idx ON ploomes_sync.deleted_sales (deleted_at);

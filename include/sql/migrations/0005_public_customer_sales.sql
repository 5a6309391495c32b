-- public.customer_sales per the contract: created when missing, otherwise brought to it in place.
-- Known older shape: customer_id integer, customer_name NOT NULL, cnpj, deal_count, avg_deal_size.

-- Created here only when missing. A new table in public is reachable through Supabase's HTTP API
-- with the project's default grants: it starts private (no privilege for PUBLIC nor the API roles)
-- with row-level security on, until the dashboard's step (include/sql/roles/dashboard_read.sql).
-- A table that already exists keeps its grants and RLS setting untouched.
DO $$
BEGIN
    IF to_regclass('public.customer_sales') IS NULL THEN
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
        PERFORM ploomes_sync.public_object('customer_sales', true);  -- private until the dashboard's step
    END IF;
    PERFORM ploomes_sync.public_object('customer_sales', false);  -- an older table: its grants stay
END
$$;

SELECT ploomes_sync.rename_column('customer_sales', 'cnpj', 'customer_cnpj');
SELECT ploomes_sync.rename_column('customer_sales', 'deal_count', 'total_deals');
SELECT ploomes_sync.rename_column('customer_sales', 'avg_deal_size', 'average_deal_value');

SELECT ploomes_sync.conform_table('customer_sales', '[
    ["customer_id", "bigint"], ["customer_name", "text"], ["customer_cnpj", "text", "digits14"],
    ["total_deals", "integer"], ["won_deals", "integer"], ["total_sales", "integer"],
    ["total_revenue", "numeric(15,2)"], ["average_deal_value", "numeric(15,2)"],
    ["first_purchase_date", "timestamp with time zone"], ["last_purchase_date", "timestamp with time zone"],
    ["last_sync_at", "timestamp with time zone"]
]');
SELECT ploomes_sync.ensure_key('customer_sales', 'customer_id');

SELECT ploomes_sync.relax_not_null('customer_sales', ARRAY['customer_id'], ARRAY[
    'customer_id', 'customer_name', 'customer_cnpj', 'total_deals', 'won_deals', 'total_sales',
    'total_revenue', 'average_deal_value', 'first_purchase_date', 'last_purchase_date', 'last_sync_at'
]);

-- public.customers per the contract: created when missing, otherwise brought to it in place.

-- Created here only when missing. A new table in public is reachable through Supabase's HTTP API
-- with the project's default grants: it starts private (no privilege for PUBLIC nor the API roles)
-- with row-level security on, until the dashboard's step (include/sql/roles/dashboard_read.sql).
-- A table that already exists keeps its grants and RLS setting untouched.
DO $$
BEGIN
    IF to_regclass('public.customers') IS NULL THEN
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
        PERFORM ploomes_sync.public_object('customers', true);  -- private until the dashboard's step
    END IF;
    PERFORM ploomes_sync.public_object('customers', false);  -- an older table: its grants stay
END
$$;

SELECT ploomes_sync.conform_table('customers', '[
    ["id", "bigint"], ["name", "text"], ["legal_name", "text"], ["cnpj", "text", "digits14"],
    ["zip_code", "text", "digits8"], ["is_client", "boolean"], ["created_at", "timestamp with time zone"],
    ["updated_at", "timestamp with time zone"], ["synced_at", "timestamp with time zone"]
]');
SELECT ploomes_sync.ensure_key('customers', 'id');
ALTER TABLE public.customers ALTER COLUMN synced_at SET DEFAULT now();

SELECT ploomes_sync.relax_not_null('customers', ARRAY['id'], ARRAY[
    'id', 'name', 'legal_name', 'cnpj', 'zip_code', 'is_client', 'created_at', 'updated_at', 'synced_at'
]);

-- A database that may take the baseline: no migration recorded, none of the contract's public
-- tables (an older shape must take the numbered path, which conforms it), and no table of the
-- sync's own but the ledger, the record of public objects and the streams' tables' fingerprint.
SELECT NOT EXISTS (SELECT 1 FROM ploomes_sync.schema_migrations)
   AND to_regclass('public.sales') IS NULL
   AND to_regclass('public.customers') IS NULL
   AND to_regclass('public.customer_sales') IS NULL
   AND NOT EXISTS (SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                   WHERE n.nspname = 'ploomes_sync' AND c.relkind IN ('r', 'v', 'm', 'p')
                     AND c.relname NOT IN ('schema_migrations', 'public_objects', 'stream_tables'));

-- Installs that went through earlier versions: what the sync keeps in public, recorded (the
-- least-privilege script hands these over; the dashboard's step grants on them). No privilege
-- changes here: who reads them today keeps reading them. Whether sales, customers and
-- customer_sales were found older or created by the sync is not known any more: recorded as older
-- (their grants are the user's). A database migrated by this version recorded them already.
INSERT INTO ploomes_sync.public_objects (name, created)
SELECT name, created
FROM (VALUES ('sales', false), ('customers', false), ('customer_sales', false), ('products', true),
             ('product_prices', true), ('orders', true), ('order_items', true), ('quotes', true),
             ('quote_items', true), ('customer_price_history', true)) AS o(name, created)
WHERE to_regclass(format('public.%I', name)) IS NOT NULL
ON CONFLICT (name) DO NOTHING;

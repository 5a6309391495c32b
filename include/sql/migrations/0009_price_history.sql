-- Price history (docs/warehouse.md, "Price history"): products, orders and quotes with their lines,
-- the catalogue prices the sync has seen, and the view the dashboard's price-history modal reads.
-- Existing tables only gain columns (sales: the deal's latest and won quote); their grants and
-- row-level security are left as they are. New public tables start with row-level security on.

-- An object of these names that exists already is an older one: recorded so, its grants stay.
SELECT ploomes_sync.public_object(name, false)
FROM unnest(ARRAY['products', 'product_prices', 'orders', 'order_items', 'quotes', 'quote_items',
                  'customer_price_history']) AS name
WHERE to_regclass(format('public.%I', name)) IS NOT NULL;

-- === public.sales: the deal's quotes ==========================================================
ALTER TABLE public.sales ADD COLUMN IF NOT EXISTS last_quote_id bigint;
ALTER TABLE public.sales ADD COLUMN IF NOT EXISTS won_quote_id bigint;
ALTER TABLE ploomes_sync.stage_deals ADD COLUMN IF NOT EXISTS last_quote_id bigint;
ALTER TABLE ploomes_sync.stage_deals ADD COLUMN IF NOT EXISTS won_quote_id bigint;
ALTER TABLE ploomes_sync.deleted_sales ADD COLUMN IF NOT EXISTS last_quote_id bigint;
ALTER TABLE ploomes_sync.deleted_sales ADD COLUMN IF NOT EXISTS won_quote_id bigint;

-- === public: the catalogue, orders, quotes and their lines ====================================
CREATE TABLE IF NOT EXISTS public.products (
    id               bigint PRIMARY KEY,
    code             text,
    name             text,
    group_id         bigint,
    family_id        bigint,
    measurement_unit text,
    unit_price       numeric(15,2),
    currency_id      bigint,
    suspended        boolean,
    created_at       timestamptz,
    updated_at       timestamptz,
    synced_at        timestamptz DEFAULT now()
);
ALTER TABLE public.products ENABLE ROW LEVEL SECURITY;

-- One row per catalogue price seen; no foreign key: a product deleted in Ploomes keeps its history.
CREATE TABLE IF NOT EXISTS public.product_prices (
    product_id  bigint NOT NULL,
    unit_price  numeric(15,2),
    currency_id bigint,
    valid_from  timestamptz NOT NULL,
    valid_to    timestamptz,
    PRIMARY KEY (product_id, valid_from)
);
ALTER TABLE public.product_prices ENABLE ROW LEVEL SECURITY;

CREATE TABLE IF NOT EXISTS public.orders (
    id               bigint PRIMARY KEY,
    order_number     bigint,
    deal_id          bigint,
    customer_id      bigint,
    ordered_at       timestamptz,
    amount           numeric(15,2),
    discount_percent numeric(9,4),
    stage_id         bigint,
    owner_id         bigint,
    origin_quote_id  bigint,
    created_at       timestamptz,
    updated_at       timestamptz,
    synced_at        timestamptz DEFAULT now()
);
ALTER TABLE public.orders ENABLE ROW LEVEL SECURITY;
CREATE INDEX IF NOT EXISTS orders_customer_id_idx ON public.orders (customer_id);
CREATE INDEX IF NOT EXISTS orders_deal_id_idx ON public.orders (deal_id);

-- An order's lines go with it (a re-read replaces them, an archived order takes them along).
CREATE TABLE IF NOT EXISTS public.order_items (
    id               bigint PRIMARY KEY,
    order_id         bigint NOT NULL REFERENCES public.orders (id) ON DELETE CASCADE,
    deal_id          bigint,
    customer_id      bigint,
    ordered_at       timestamptz,
    product_id       bigint,
    product_name     text,
    quantity         numeric(15,4),
    unit_price       numeric(15,2),
    discount_percent numeric(9,4),
    line_total       numeric(15,2),
    currency_id      bigint,
    synced_at        timestamptz DEFAULT now()
);
ALTER TABLE public.order_items ENABLE ROW LEVEL SECURITY;
CREATE INDEX IF NOT EXISTS order_items_order_id_idx ON public.order_items (order_id);
CREATE INDEX IF NOT EXISTS order_items_customer_id_idx ON public.order_items (customer_id);

CREATE TABLE IF NOT EXISTS public.quotes (
    id                 bigint PRIMARY KEY,
    quote_number       bigint,
    review_number      bigint,
    deal_id            bigint,
    customer_id        bigint,
    quoted_at          timestamptz,
    amount             numeric(15,2),
    discount_percent   numeric(9,4),
    approval_status_id bigint,
    expires_at         timestamptz,
    updated_at         timestamptz,
    synced_at          timestamptz DEFAULT now()
);
ALTER TABLE public.quotes ENABLE ROW LEVEL SECURITY;
CREATE INDEX IF NOT EXISTS quotes_deal_id_idx ON public.quotes (deal_id);

CREATE TABLE IF NOT EXISTS public.quote_items (
    id               bigint PRIMARY KEY,
    quote_id         bigint NOT NULL REFERENCES public.quotes (id) ON DELETE CASCADE,
    deal_id          bigint,
    customer_id      bigint,
    quoted_at        timestamptz,
    product_id       bigint,
    product_name     text,
    quantity         numeric(15,4),
    unit_price       numeric(15,2),
    discount_percent numeric(9,4),
    line_total       numeric(15,2),
    currency_id      bigint,
    synced_at        timestamptz DEFAULT now()
);
ALTER TABLE public.quote_items ENABLE ROW LEVEL SECURITY;
CREATE INDEX IF NOT EXISTS quote_items_quote_id_idx ON public.quote_items (quote_id);

-- === the view the price-history modal reads ===================================================
-- Every order line of a customer's orders, and for each won deal no order points at, the lines of
-- its won quote (won_quote_id, else last_quote_id, else its latest quote). security_invoker: it
-- reads the tables under the reader's own row-level security, never the view owner's.
CREATE OR REPLACE VIEW public.customer_price_history WITH (security_invoker = true) AS
WITH sold AS (
    SELECT o.customer_id, i.product_id, i.product_name, o.ordered_at AS sold_at, i.quantity, i.unit_price,
           i.discount_percent, i.line_total, i.currency_id, 'order'::text AS source, o.id AS source_id, o.deal_id
    FROM public.orders AS o
    JOIN public.order_items AS i ON i.order_id = o.id
    UNION ALL
    SELECT d.customer_id, i.product_id, i.product_name, coalesce(d.closed_at, d.created_at), i.quantity,
           i.unit_price, i.discount_percent, i.line_total, i.currency_id, 'quote'::text, q.id, d.id
    FROM public.sales AS d
    JOIN public.quotes AS q ON q.id = coalesce(d.won_quote_id, d.last_quote_id,
                                               (SELECT l.id FROM public.quotes AS l WHERE l.deal_id = d.id
                                                ORDER BY l.quoted_at DESC NULLS LAST, l.id DESC LIMIT 1))
    JOIN public.quote_items AS i ON i.quote_id = q.id
    WHERE d.won AND NOT EXISTS (SELECT 1 FROM public.orders AS o WHERE o.deal_id = d.id)
)
SELECT s.customer_id, s.product_id, p.code AS product_code, coalesce(p.name, s.product_name) AS product_name,
       s.sold_at, s.quantity, s.unit_price, s.discount_percent,
       CASE WHEN s.quantity <> 0 THEN round(s.line_total / s.quantity, 2) END AS net_unit_price,
       s.line_total, s.currency_id, s.source, s.source_id, s.deal_id
FROM sold AS s
LEFT JOIN public.products AS p ON p.id = s.product_id
ORDER BY s.customer_id, s.product_id, s.sold_at;

-- === ploomes_sync: staging and archives of the new streams ====================================
CREATE UNLOGGED TABLE IF NOT EXISTS ploomes_sync.stage_products (
    run_id           text NOT NULL,
    id               bigint NOT NULL,
    code             text,
    name             text,
    group_id         bigint,
    family_id        bigint,
    measurement_unit text,
    unit_price       numeric(15,2),
    currency_id      bigint,
    suspended        boolean,
    created_at       timestamptz,
    updated_at       timestamptz
);
CREATE INDEX IF NOT EXISTS stage_products_run_id_id_idx ON ploomes_sync.stage_products (run_id, id);

CREATE UNLOGGED TABLE IF NOT EXISTS ploomes_sync.stage_orders (
    run_id           text NOT NULL,
    id               bigint NOT NULL,
    order_number     bigint,
    deal_id          bigint,
    customer_id      bigint,
    ordered_at       timestamptz,
    amount           numeric(15,2),
    discount_percent numeric(9,4),
    stage_id         bigint,
    owner_id         bigint,
    origin_quote_id  bigint,
    created_at       timestamptz,
    updated_at       timestamptz
);
CREATE INDEX IF NOT EXISTS stage_orders_run_id_id_idx ON ploomes_sync.stage_orders (run_id, id);

CREATE UNLOGGED TABLE IF NOT EXISTS ploomes_sync.stage_quotes (
    run_id             text NOT NULL,
    id                 bigint NOT NULL,
    quote_number       bigint,
    review_number      bigint,
    deal_id            bigint,
    customer_id        bigint,
    quoted_at          timestamptz,
    amount             numeric(15,2),
    discount_percent   numeric(9,4),
    approval_status_id bigint,
    expires_at         timestamptz,
    updated_at         timestamptz
);
CREATE INDEX IF NOT EXISTS stage_quotes_run_id_id_idx ON ploomes_sync.stage_quotes (run_id, id);

-- The lines read with their records, each with its record's LastUpdateDate (the merge takes the
-- lines of the version of the record it takes).
CREATE UNLOGGED TABLE IF NOT EXISTS ploomes_sync.stage_order_items (
    run_id            text NOT NULL,
    parent_updated_at timestamptz,
    id                bigint NOT NULL,
    order_id          bigint NOT NULL,
    deal_id           bigint,
    customer_id       bigint,
    ordered_at        timestamptz,
    product_id        bigint,
    product_name      text,
    quantity          numeric(15,4),
    unit_price        numeric(15,2),
    discount_percent  numeric(9,4),
    line_total        numeric(15,2),
    currency_id       bigint
);
CREATE INDEX IF NOT EXISTS stage_order_items_run_id_idx ON ploomes_sync.stage_order_items (run_id, order_id);

CREATE UNLOGGED TABLE IF NOT EXISTS ploomes_sync.stage_quote_items (
    run_id            text NOT NULL,
    parent_updated_at timestamptz,
    id                bigint NOT NULL,
    quote_id          bigint NOT NULL,
    deal_id           bigint,
    customer_id       bigint,
    quoted_at         timestamptz,
    product_id        bigint,
    product_name      text,
    quantity          numeric(15,4),
    unit_price        numeric(15,2),
    discount_percent  numeric(9,4),
    line_total        numeric(15,2),
    currency_id       bigint
);
CREATE INDEX IF NOT EXISTS stage_quote_items_run_id_idx ON ploomes_sync.stage_quote_items (run_id, quote_id);

CREATE UNLOGGED TABLE IF NOT EXISTS ploomes_sync.stage_products_listing (
    run_id     text NOT NULL,
    id         bigint NOT NULL,
    updated_at timestamptz,
    code       text,
    unit_price numeric(15,2)
);
CREATE INDEX IF NOT EXISTS stage_products_listing_run_id_id_idx ON ploomes_sync.stage_products_listing (run_id, id);

CREATE UNLOGGED TABLE IF NOT EXISTS ploomes_sync.stage_orders_listing (
    run_id      text NOT NULL,
    id          bigint NOT NULL,
    updated_at  timestamptz,
    ordered_at  timestamptz,
    customer_id bigint,
    deal_id     bigint,
    amount      numeric(15,2)
);
CREATE INDEX IF NOT EXISTS stage_orders_listing_run_id_id_idx ON ploomes_sync.stage_orders_listing (run_id, id);

CREATE UNLOGGED TABLE IF NOT EXISTS ploomes_sync.stage_quotes_listing (
    run_id     text NOT NULL,
    id         bigint NOT NULL,
    updated_at timestamptz,
    deal_id    bigint,
    amount     numeric(15,2)
);
CREATE INDEX IF NOT EXISTS stage_quotes_listing_run_id_id_idx ON ploomes_sync.stage_quotes_listing (run_id, id);

-- Rows found gone from Ploomes, as the other archives (row_data: the row as JSON).
CREATE TABLE IF NOT EXISTS ploomes_sync.deleted_products (
    id               bigint NOT NULL,
    code             text,
    name             text,
    group_id         bigint,
    family_id        bigint,
    measurement_unit text,
    unit_price       numeric(15,2),
    currency_id      bigint,
    suspended        boolean,
    created_at       timestamptz,
    updated_at       timestamptz,
    synced_at        timestamptz,
    deleted_at       timestamptz NOT NULL DEFAULT now(),
    run_id           text,
    row_data         jsonb NOT NULL
);
CREATE INDEX IF NOT EXISTS deleted_products_id_idx ON ploomes_sync.deleted_products (id);
CREATE INDEX IF NOT EXISTS deleted_products_deleted_at_idx ON ploomes_sync.deleted_products (deleted_at);

CREATE TABLE IF NOT EXISTS ploomes_sync.deleted_orders (
    id               bigint NOT NULL,
    order_number     bigint,
    deal_id          bigint,
    customer_id      bigint,
    ordered_at       timestamptz,
    amount           numeric(15,2),
    discount_percent numeric(9,4),
    stage_id         bigint,
    owner_id         bigint,
    origin_quote_id  bigint,
    created_at       timestamptz,
    updated_at       timestamptz,
    synced_at        timestamptz,
    deleted_at       timestamptz NOT NULL DEFAULT now(),
    run_id           text,
    row_data         jsonb NOT NULL
);
CREATE INDEX IF NOT EXISTS deleted_orders_id_idx ON ploomes_sync.deleted_orders (id);
CREATE INDEX IF NOT EXISTS deleted_orders_deleted_at_idx ON ploomes_sync.deleted_orders (deleted_at);

CREATE TABLE IF NOT EXISTS ploomes_sync.deleted_quotes (
    id                 bigint NOT NULL,
    quote_number       bigint,
    review_number      bigint,
    deal_id            bigint,
    customer_id        bigint,
    quoted_at          timestamptz,
    amount             numeric(15,2),
    discount_percent   numeric(9,4),
    approval_status_id bigint,
    expires_at         timestamptz,
    updated_at         timestamptz,
    synced_at          timestamptz,
    deleted_at         timestamptz NOT NULL DEFAULT now(),
    run_id             text,
    row_data           jsonb NOT NULL
);
CREATE INDEX IF NOT EXISTS deleted_quotes_id_idx ON ploomes_sync.deleted_quotes (id);
CREATE INDEX IF NOT EXISTS deleted_quotes_deleted_at_idx ON ploomes_sync.deleted_quotes (deleted_at);

-- The webhook inbox takes deliveries of the new streams too.
ALTER TABLE ploomes_sync.webhook_inbox DROP CONSTRAINT IF EXISTS webhook_inbox_stream_check;
ALTER TABLE ploomes_sync.webhook_inbox ADD CONSTRAINT webhook_inbox_stream_check
    CHECK (stream IN ('deals', 'contacts', 'products', 'orders', 'quotes'));

-- What this migration created starts private, until the dashboard's step grants the role it uses.
SELECT ploomes_sync.public_object(name, true)
FROM unnest(ARRAY['products', 'product_prices', 'orders', 'order_items', 'quotes', 'quote_items',
                  'customer_price_history']) AS name;

-- The account's own vocabulary (docs/warehouse.md, "The account's vocabulary"): each record's custom
-- values, keyed by the field's key; what each key, option, seller, pipeline, stage and loss reason is
-- called today; and two views that give the dashboards names. The streams' staging, listing and
-- archive tables follow their specs (ploomes_sync.warehouse.stream_tables).

-- === custom values on the records, and a deal's loss reason ===================================
ALTER TABLE public.sales ADD COLUMN IF NOT EXISTS loss_reason_id bigint;
ALTER TABLE public.sales ADD COLUMN IF NOT EXISTS custom_fields jsonb NOT NULL DEFAULT '{}';
ALTER TABLE public.customers ADD COLUMN IF NOT EXISTS custom_fields jsonb NOT NULL DEFAULT '{}';
ALTER TABLE public.products ADD COLUMN IF NOT EXISTS custom_fields jsonb NOT NULL DEFAULT '{}';
ALTER TABLE public.orders ADD COLUMN IF NOT EXISTS custom_fields jsonb NOT NULL DEFAULT '{}';
ALTER TABLE public.quotes ADD COLUMN IF NOT EXISTS custom_fields jsonb NOT NULL DEFAULT '{}';

-- The records already in the warehouse were read without their custom values: the next run reads
-- every one of them again (its streams start over, as a first run does).
DELETE FROM ploomes_sync.watermarks WHERE stream IN ('deals', 'contacts', 'products', 'orders', 'quotes');

-- === the vocabulary =========================================================================
-- An object of these names that exists already is an older one: recorded so, its grants stay.
SELECT ploomes_sync.public_object(name, false)
FROM unnest(ARRAY['custom_fields', 'custom_field_option_tables', 'custom_field_options', 'crm_users',
                  'deal_pipelines', 'deal_stages', 'loss_reasons', 'sales_named', 'custom_field_values']) AS name
WHERE to_regclass(format('public.%I', name)) IS NOT NULL;

-- What each custom field's key means today (a field renamed in Ploomes changes its name only).
CREATE TABLE IF NOT EXISTS public.custom_fields (
    key              text PRIMARY KEY,
    id               bigint NOT NULL UNIQUE,
    entity           text NOT NULL,
    name             text,
    type_id          integer,
    native_type      text,
    options_table_id bigint,
    multiple         boolean,
    updated_at       timestamptz,
    synced_at        timestamptz DEFAULT now()
);
CREATE TABLE IF NOT EXISTS public.custom_field_option_tables (
    id         bigint PRIMARY KEY,
    name       text,
    updated_at timestamptz,
    synced_at  timestamptz DEFAULT now()
);
-- An option table's options go with it (a re-read replaces them, an archived table takes them along).
CREATE TABLE IF NOT EXISTS public.custom_field_options (
    id        bigint PRIMARY KEY,
    table_id  bigint NOT NULL REFERENCES public.custom_field_option_tables (id) ON DELETE CASCADE,
    name      text,
    synced_at timestamptz DEFAULT now()
);
CREATE INDEX IF NOT EXISTS custom_field_options_table_id_idx ON public.custom_field_options (table_id);
CREATE TABLE IF NOT EXISTS public.crm_users (
    id          bigint PRIMARY KEY,
    name        text,
    email       text,
    suspended   boolean,
    integration boolean,
    updated_at  timestamptz,
    synced_at   timestamptz DEFAULT now()
);
CREATE TABLE IF NOT EXISTS public.deal_pipelines (
    id         bigint PRIMARY KEY,
    name       text,
    archived   boolean,
    ordination integer,
    updated_at timestamptz,
    synced_at  timestamptz DEFAULT now()
);
CREATE TABLE IF NOT EXISTS public.deal_stages (
    id          bigint PRIMARY KEY,
    pipeline_id bigint,
    name        text,
    ordination  integer,
    updated_at  timestamptz,
    synced_at   timestamptz DEFAULT now()
);
CREATE TABLE IF NOT EXISTS public.loss_reasons (
    id          bigint PRIMARY KEY,
    name        text,
    pipeline_id bigint,
    updated_at  timestamptz,
    synced_at   timestamptz DEFAULT now()
);
ALTER TABLE public.custom_fields ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.custom_field_option_tables ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.custom_field_options ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.crm_users ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.deal_pipelines ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.deal_stages ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.loss_reasons ENABLE ROW LEVEL SECURITY;

-- === names for the dashboards ===============================================================
-- Each deal with the names of its seller, pipeline, stage and loss reason as Ploomes calls them today.
-- security_invoker: it reads the tables under the reader's own grants and row-level security.
CREATE OR REPLACE VIEW public.sales_named WITH (security_invoker = true) AS
SELECT s.*,
       u.name AS owner_name,
       p.name AS pipeline_name,
       st.name AS stage_name,
       r.name AS loss_reason_name
FROM public.sales AS s
LEFT JOIN public.crm_users AS u ON u.id = s.owner_id
LEFT JOIN public.deal_pipelines AS p ON p.id = s.pipeline_id
LEFT JOIN public.deal_stages AS st ON st.id = s.stage_id
LEFT JOIN public.loss_reasons AS r ON r.id = s.loss_reason_id;

-- One row per custom value of a record (one per option of a field that takes several): the record's
-- entity and id, the field's key and today's name, the value (JSON, as custom_fields holds it) and
-- its label (an option's name today, else the value as text). Ask by name: WHERE field_name =
-- 'Segmento' AND label = 'Hospital'; renaming the field or the option in Ploomes changes the
-- answer's labels on the next run, not the query.
CREATE OR REPLACE VIEW public.custom_field_values WITH (security_invoker = true) AS
WITH custom AS (
    SELECT 'deals'::text AS entity, id AS record_id, custom_fields FROM public.sales
    UNION ALL SELECT 'contacts', id, custom_fields FROM public.customers
    UNION ALL SELECT 'orders', id, custom_fields FROM public.orders
    UNION ALL SELECT 'quotes', id, custom_fields FROM public.quotes
    UNION ALL SELECT 'products', id, custom_fields FROM public.products
),
each_value AS (
    SELECT c.entity, c.record_id, kv.key AS field_key, kv.value,
           CASE WHEN jsonb_typeof(kv.value) = 'array' THEN e.element ELSE kv.value END AS one
    FROM custom AS c
    CROSS JOIN LATERAL jsonb_each(c.custom_fields) AS kv
    LEFT JOIN LATERAL jsonb_array_elements(CASE WHEN jsonb_typeof(kv.value) = 'array' THEN kv.value END)
        AS e(element) ON true
)
SELECT v.entity, v.record_id, v.field_key, f.name AS field_name, v.value,
       coalesce(o.name, v.one #>> '{}') AS label
FROM each_value AS v
LEFT JOIN public.custom_fields AS f ON f.key = v.field_key
LEFT JOIN public.custom_field_options AS o
       ON f.options_table_id IS NOT NULL AND jsonb_typeof(v.one) = 'number' AND o.id = (v.one #>> '{}')::bigint;

-- What this migration created starts private, until the dashboard's step grants the role it uses.
SELECT ploomes_sync.public_object(name, true)
FROM unnest(ARRAY['custom_fields', 'custom_field_option_tables', 'custom_field_options', 'crm_users',
                  'deal_pipelines', 'deal_stages', 'loss_reasons', 'sales_named', 'custom_field_values']) AS name;

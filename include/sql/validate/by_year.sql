-- Deals and won revenue per calendar year (in the business time zone) of created_at: Ploomes' side from the run's
-- listing, the warehouse's from public.sales, both within the scope and both without the deals changed at or
-- after the cutoff on either side (Ploomes changed them after this run read them, or another run loaded a
-- newer version than this run saw, or found them deleted): the next run checks those.
WITH listing AS (
    SELECT DISTINCT ON (id) id, created_at, status, deal_value, updated_at
    FROM ploomes_sync.stage_deal_listing
    WHERE run_key = %(run_key)s
      AND (%(created_from)s::timestamptz IS NULL OR created_at >= %(created_from)s::timestamptz)
      AND (%(created_to)s::timestamptz IS NULL OR created_at < %(created_to)s::timestamptz)
    ORDER BY id, updated_at DESC NULLS LAST
),
excluded AS (
    SELECT id FROM listing WHERE updated_at >= %(cutoff)s::timestamptz
    UNION
    SELECT s.id FROM public.sales AS s
    WHERE s.updated_at >= %(cutoff)s::timestamptz
      AND (%(created_from)s::timestamptz IS NULL OR s.created_at >= %(created_from)s::timestamptz)
      AND (%(created_to)s::timestamptz IS NULL OR s.created_at < %(created_to)s::timestamptz)
    UNION
    SELECT d.id FROM ploomes_sync.deleted_sales AS d
    WHERE d.deleted_at >= %(cutoff)s::timestamptz
      AND d.run_key IS DISTINCT FROM %(run_key)s
      AND (%(created_from)s::timestamptz IS NULL OR d.created_at >= %(created_from)s::timestamptz)
      AND (%(created_to)s::timestamptz IS NULL OR d.created_at < %(created_to)s::timestamptz)
),
ploomes AS (
    SELECT extract(year FROM created_at AT TIME ZONE %(tz)s)::integer AS year,
           count(*) AS deals,
           coalesce(sum(deal_value) FILTER (WHERE status = 'won'), 0) AS revenue
    FROM listing AS l
    WHERE NOT EXISTS (SELECT 1 FROM excluded AS e WHERE e.id = l.id)
    GROUP BY 1
),
warehouse AS (
    SELECT extract(year FROM s.created_at AT TIME ZONE %(tz)s)::integer AS year,
           count(*) AS deals,
           coalesce(sum(s.deal_value) FILTER (WHERE s.won), 0) AS revenue
    FROM public.sales AS s
    WHERE (%(created_from)s::timestamptz IS NULL OR s.created_at >= %(created_from)s::timestamptz)
      AND (%(created_to)s::timestamptz IS NULL OR s.created_at < %(created_to)s::timestamptz)
      AND NOT EXISTS (SELECT 1 FROM excluded AS e WHERE e.id = s.id)
    GROUP BY 1
),
both_sides AS (
    SELECT year, deals AS ploomes_deals, 0::bigint AS warehouse_deals,
           revenue AS ploomes_revenue, 0::numeric AS warehouse_revenue
    FROM ploomes
    UNION ALL
    SELECT year, 0, deals, 0, revenue FROM warehouse
),
years AS (
    SELECT year,
           sum(ploomes_deals)::bigint       AS ploomes_deals,
           sum(warehouse_deals)::bigint     AS warehouse_deals,
           round(sum(ploomes_revenue), 2)   AS ploomes_won_revenue,
           round(sum(warehouse_revenue), 2) AS warehouse_won_revenue
    FROM both_sides
    GROUP BY year
)
-- One row per year, each also giving how many deals were left out; when neither side has a deal,
-- a single row with nulls but that number.
SELECT y.year, y.ploomes_deals, y.warehouse_deals, y.ploomes_won_revenue, y.warehouse_won_revenue,
       x.excluded
FROM (SELECT count(*) AS excluded FROM excluded) AS x
LEFT JOIN years AS y ON true
ORDER BY y.year NULLS LAST;

-- public.customer_sales recomputed from public.sales and public.customers in one statement, for
-- every customer or (the customers parameter, an array) for those only: upsert each customer with at least
-- one deal, delete the rows of customers with none left.
-- Returns (rows written, inserted, updated with a changed value, deleted).
WITH fresh AS (
    SELECT s.customer_id,
           c.name                                                                   AS customer_name,
           c.cnpj                                                                   AS customer_cnpj,
           count(*)::integer                                                        AS total_deals,
           (count(*) FILTER (WHERE s.won))::integer                                 AS won_deals,
           coalesce(sum(s.deal_value) FILTER (WHERE s.won), 0)::numeric(15,2)       AS total_revenue,
           round(avg(s.deal_value) FILTER (WHERE s.won AND s.deal_value IS NOT NULL), 2)::numeric(15,2)
                                                                                    AS average_deal_value,
           min(coalesce(s.closed_at, s.created_at)) FILTER (WHERE s.won)            AS first_purchase_date,
           max(coalesce(s.closed_at, s.created_at)) FILTER (WHERE s.won)            AS last_purchase_date
    FROM public.sales AS s
    LEFT JOIN public.customers AS c ON c.id = s.customer_id
    WHERE s.customer_id IS NOT NULL
      AND (%(customers)s::bigint[] IS NULL OR s.customer_id = ANY(%(customers)s::bigint[]))
    GROUP BY s.customer_id, c.name, c.cnpj
),
compared AS (
    SELECT cs.customer_id IS NULL AS is_new,
           (cs.customer_name, cs.customer_cnpj, cs.total_deals, cs.won_deals, cs.total_sales, cs.total_revenue,
            cs.average_deal_value, cs.first_purchase_date, cs.last_purchase_date)
           IS DISTINCT FROM
           (f.customer_name, f.customer_cnpj, f.total_deals, f.won_deals, f.won_deals, f.total_revenue,
            f.average_deal_value, f.first_purchase_date, f.last_purchase_date) AS changed
    FROM fresh AS f
    LEFT JOIN public.customer_sales AS cs ON cs.customer_id = f.customer_id
),
upserted AS (
    INSERT INTO public.customer_sales AS t (customer_id, customer_name, customer_cnpj, total_deals, won_deals,
                                            total_sales, total_revenue, average_deal_value,
                                            first_purchase_date, last_purchase_date, last_sync_at)
    SELECT customer_id, customer_name, customer_cnpj, total_deals, won_deals, won_deals, total_revenue,
           average_deal_value, first_purchase_date, last_purchase_date, clock_timestamp()
    FROM fresh
    ORDER BY customer_id
    ON CONFLICT (customer_id) DO UPDATE SET
        customer_name       = EXCLUDED.customer_name,
        customer_cnpj       = EXCLUDED.customer_cnpj,
        total_deals         = EXCLUDED.total_deals,
        won_deals           = EXCLUDED.won_deals,
        total_sales         = EXCLUDED.total_sales,
        total_revenue       = EXCLUDED.total_revenue,
        average_deal_value  = EXCLUDED.average_deal_value,
        first_purchase_date = EXCLUDED.first_purchase_date,
        last_purchase_date  = EXCLUDED.last_purchase_date,
        last_sync_at        = EXCLUDED.last_sync_at
    RETURNING 1
),
removed AS (
    DELETE FROM public.customer_sales AS t
    WHERE (%(customers)s::bigint[] IS NULL OR t.customer_id = ANY(%(customers)s::bigint[]))
      AND NOT EXISTS (SELECT 1 FROM fresh AS f WHERE f.customer_id = t.customer_id)
    RETURNING 1
)
SELECT (SELECT count(*) FROM upserted),
       (SELECT count(*) FROM compared WHERE is_new),
       (SELECT count(*) FROM compared WHERE NOT is_new AND changed),
       (SELECT count(*) FROM removed);

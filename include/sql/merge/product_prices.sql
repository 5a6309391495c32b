-- Template (ploomes_sync.warehouse.statements), run by the merge of products after the upsert, in
-- its transaction: the catalogue price of each product this run staged, as public.products now
-- holds it, opens a period of public.product_prices when it is not the product's current one, and
-- closes the period before it. valid_from is the product's LastUpdateDate; for the first price of a
-- product created since the catalogue's previous read began (%(since)s, null before the first
-- one), its CreateDate. A price whose LastUpdateDate is not after the current period's start
-- replaces that period's price (two changes between observations keep the last). Rows are never
-- deleted: a product gone from Ploomes keeps its history. Returns the periods opened or replaced.
WITH seen AS (
    SELECT p.id, p.unit_price, p.currency_id, cur.valid_from AS current_from,
           CASE WHEN cur.product_id IS NULL
                     AND NOT EXISTS (SELECT 1 FROM public.product_prices AS h WHERE h.product_id = p.id)
                     AND p.created_at >= %(since)s::timestamptz
                THEN p.created_at
                ELSE p.updated_at END AS valid_from
    FROM public.products AS p
    LEFT JOIN public.product_prices AS cur ON cur.product_id = p.id AND cur.valid_to IS NULL
    WHERE p.id IN (SELECT id FROM {stage} WHERE run_id = %(run_id)s)
      AND (cur.product_id IS NULL
           OR (cur.unit_price, cur.currency_id) IS DISTINCT FROM (p.unit_price, p.currency_id))
),
closed AS (
    UPDATE public.product_prices AS h
    SET valid_to = s.valid_from
    FROM seen AS s
    WHERE h.product_id = s.id AND h.valid_to IS NULL AND h.valid_from < s.valid_from
    RETURNING h.product_id
),
opened AS (
    INSERT INTO public.product_prices AS h (product_id, unit_price, currency_id, valid_from, valid_to)
    SELECT s.id, s.unit_price, s.currency_id, greatest(s.valid_from, s.current_from), NULL
    FROM seen AS s
    ORDER BY s.id
    ON CONFLICT (product_id, valid_from) DO UPDATE
        SET unit_price = EXCLUDED.unit_price, currency_id = EXCLUDED.currency_id
    RETURNING h.product_id
)
SELECT (SELECT count(*) FROM opened), (SELECT count(*) FROM closed);

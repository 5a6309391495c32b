-- Won revenue per São Paulo year of the deals whose custom field %(field)s (its name in Ploomes
-- today) is %(option)s (an option's name, or a value as text): "the deals whose Segmento is
-- Hospital". A field or an option renamed in Ploomes is asked by its new name after the next run.
SELECT extract(year FROM coalesce(s.closed_at, s.created_at) AT TIME ZONE 'America/Sao_Paulo')::integer AS year,
       sum(s.deal_value) AS won_revenue
FROM public.sales AS s
JOIN public.custom_field_values AS v ON v.entity = 'deals' AND v.record_id = s.id
WHERE s.won AND v.field_name = %(field)s AND v.label = %(option)s
GROUP BY 1
ORDER BY 1;

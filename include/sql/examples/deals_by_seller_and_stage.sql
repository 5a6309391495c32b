-- Deals per seller and stage (with the stage's pipeline), by the names Ploomes gives them today.
SELECT owner_name AS seller, pipeline_name AS pipeline, stage_name AS stage, count(*) AS deals
FROM public.sales_named
GROUP BY 1, 2, 3
ORDER BY 1, 2, 3;

-- How many deals changed at or after the cutoff: in the listing or public.sales (within the scope), or
-- found deleted by another run.
SELECT count(*)
FROM (
    SELECT id
    FROM ploomes_sync.stage_deal_listing
    WHERE run_key = %(run_key)s
      AND updated_at >= %(cutoff)s::timestamptz
      AND (%(created_from)s::timestamptz IS NULL OR created_at >= %(created_from)s::timestamptz)
      AND (%(created_to)s::timestamptz IS NULL OR created_at < %(created_to)s::timestamptz)
    UNION
    SELECT id
    FROM public.sales
    WHERE updated_at >= %(cutoff)s::timestamptz
      AND (%(created_from)s::timestamptz IS NULL OR created_at >= %(created_from)s::timestamptz)
      AND (%(created_to)s::timestamptz IS NULL OR created_at < %(created_to)s::timestamptz)
    UNION
    SELECT id
    FROM ploomes_sync.deleted_sales
    WHERE deleted_at >= %(cutoff)s::timestamptz
      AND run_key IS DISTINCT FROM %(run_key)s
      AND (%(created_from)s::timestamptz IS NULL OR created_at >= %(created_from)s::timestamptz)
      AND (%(created_to)s::timestamptz IS NULL OR created_at < %(created_to)s::timestamptz)
) AS changed;

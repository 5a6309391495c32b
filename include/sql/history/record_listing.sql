-- What a listing did, under listing -> <stream> (overwritten when a retried task lists again).
INSERT INTO ploomes_sync.run_history AS h (run_id, listing)
VALUES (%(run_id)s, jsonb_build_object(%(stream)s::text, %(info)s::jsonb))
ON CONFLICT (run_id) DO UPDATE SET
    listing = coalesce(h.listing, '{}'::jsonb) || jsonb_build_object(%(stream)s::text, %(info)s::jsonb);

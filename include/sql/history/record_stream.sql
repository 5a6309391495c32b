-- Merge counts into streams -> <stream>: the given keys are overwritten, the others kept.
INSERT INTO ploomes_sync.run_history AS h (run_id, streams)
VALUES (%(run_id)s, jsonb_build_object(%(stream)s::text, %(counts)s::jsonb))
ON CONFLICT (run_id) DO UPDATE SET
    streams = h.streams || jsonb_build_object(
        %(stream)s::text,
        CASE WHEN jsonb_typeof(h.streams -> %(stream)s::text) = 'object' THEN h.streams -> %(stream)s::text
             ELSE '{}'::jsonb END || %(counts)s::jsonb);

-- Move a stream's watermark forward, never back. Returns a row only when it moved.
INSERT INTO ploomes_sync.watermarks AS w (stream, value, run_id, updated_at)
VALUES (%(stream)s, %(value)s, %(run_id)s, clock_timestamp())
ON CONFLICT (stream) DO UPDATE SET value = EXCLUDED.value, run_id = EXCLUDED.run_id,
                                   updated_at = EXCLUDED.updated_at
WHERE w.value < EXCLUDED.value
RETURNING value;

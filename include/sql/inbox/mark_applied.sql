-- Mark the given events applied by a run, each with the outcome of its record
-- (outcomes: parallel arrays of stream, record id and outcome). Events already applied keep theirs.
UPDATE ploomes_sync.webhook_inbox AS e
SET applied_at = clock_timestamp(), apply_run_id = %(run_id)s, outcome = o.outcome
FROM unnest(%(streams)s::text[], %(record_ids)s::bigint[], %(outcomes)s::text[]) AS o(stream, record_id, outcome)
WHERE e.id = ANY(%(ids)s::bigint[])
  AND e.applied_at IS NULL
  AND e.stream = o.stream AND e.record_id = o.record_id;

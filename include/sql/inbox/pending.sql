-- The oldest pending events (at most %(limit)s), in the order received.
SELECT id, stream, record_id, action, received_at
FROM ploomes_sync.webhook_inbox
WHERE applied_at IS NULL
ORDER BY id
LIMIT %(limit)s;

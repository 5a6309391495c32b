-- One delivery into the inbox; its id.
INSERT INTO ploomes_sync.webhook_inbox (stream, record_id, action, payload)
VALUES (%(stream)s, %(record_id)s, %(action)s, %(payload)s)
RETURNING id;

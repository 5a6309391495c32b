-- The newest pending event's id (null: nothing pending): what wakes the applier.
SELECT max(id) FROM ploomes_sync.webhook_inbox WHERE applied_at IS NULL;

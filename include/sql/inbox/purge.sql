-- Applied events older than the given interval (the pending ones are never purged).
DELETE FROM ploomes_sync.webhook_inbox
WHERE applied_at IS NOT NULL AND applied_at < clock_timestamp() - %(older_than)s::interval;

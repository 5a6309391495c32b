-- The inbox at a glance: pending events, when the oldest arrived, when an event was last applied,
-- and how many arrived in the last 24 hours.
SELECT (SELECT count(*) FROM ploomes_sync.webhook_inbox WHERE applied_at IS NULL) AS pending,
       (SELECT min(received_at) FROM ploomes_sync.webhook_inbox WHERE applied_at IS NULL) AS oldest_pending,
       (SELECT max(applied_at) FROM ploomes_sync.webhook_inbox) AS last_applied,
       (SELECT max(received_at) FROM ploomes_sync.webhook_inbox) AS last_received,
       (SELECT count(*) FROM ploomes_sync.webhook_inbox
        WHERE received_at > clock_timestamp() - interval '24 hours') AS received_24h;

-- Webhook deliveries and stale-data alerts.

-- 1. Every valid delivery Ploomes posted, as received, until (and after) it was applied. The
--    receiver inserts and commits before it answers 2xx, so an answered event is never lost; the
--    applier re-reads the record by Id (the payload is kept for audit, never trusted).
CREATE TABLE IF NOT EXISTS ploomes_sync.webhook_inbox (
    id           bigserial PRIMARY KEY,
    received_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
    stream       text NOT NULL CHECK (stream IN ('deals', 'contacts')),
    record_id    bigint NOT NULL,
    action       text,
    payload      jsonb NOT NULL,
    applied_at   timestamptz,
    apply_run_id text,
    outcome      text
);
-- The pending events, oldest first: what the applier and the backlog read.
CREATE INDEX IF NOT EXISTS webhook_inbox_pending_idx
    ON ploomes_sync.webhook_inbox (id) WHERE applied_at IS NULL;
CREATE INDEX IF NOT EXISTS webhook_inbox_applied_at_idx ON ploomes_sync.webhook_inbox (applied_at);

-- 2. The stale-data alerts sent: one per breach, a breach being named by the last success it
--    follows (no success at all: the epoch).
CREATE TABLE IF NOT EXISTS ploomes_sync.stale_alerts (
    last_success timestamptz PRIMARY KEY,
    alerted_at   timestamptz NOT NULL DEFAULT clock_timestamp(),
    stale_for    interval NOT NULL,
    recipients   text NOT NULL
);

-- 3. The health page lists the latest rejects.
CREATE INDEX IF NOT EXISTS rejects_rejected_at_idx ON ploomes_sync.rejects (rejected_at);

-- Claim the announcement of a breach (named by the last success it follows); no row: already announced.
INSERT INTO ploomes_sync.stale_alerts (last_success, stale_for, recipients)
VALUES (%(last_success)s, %(stale_for)s, %(recipients)s)
ON CONFLICT (last_success) DO NOTHING
RETURNING last_success;

-- No slot of the account starts within the given seconds from now (Ploomes answered 429).
INSERT INTO ploomes_sync.api_budget AS b (account, next_slot)
VALUES (%(account)s, clock_timestamp() + make_interval(secs => %(seconds)s))
ON CONFLICT (account) DO UPDATE
SET next_slot = greatest(b.next_slot, clock_timestamp() + make_interval(secs => %(seconds)s))
RETURNING next_slot;

-- Reserve the next request slot of an account's budget (one `interval` wide) and return how many
-- seconds from now it starts (0 or more). Every process that calls Ploomes shares the row, so the
-- warehouse's clock spaces them all.
INSERT INTO ploomes_sync.api_budget AS b (account, next_slot)
VALUES (%(account)s, clock_timestamp() + %(interval)s::interval)
ON CONFLICT (account) DO UPDATE SET next_slot = greatest(b.next_slot, clock_timestamp()) + %(interval)s::interval
RETURNING greatest(0, extract(epoch FROM (b.next_slot - %(interval)s::interval - clock_timestamp())))::float8;

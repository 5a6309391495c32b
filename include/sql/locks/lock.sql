-- Serializes the writers of one thing (a public table by name, 'customer_sales', 'migrations') for
-- the rest of the transaction: the sync's lock space, keyed by the name's hash.
SELECT pg_advisory_xact_lock(1886220143, hashtext(%(name)s));

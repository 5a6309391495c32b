-- Serializes writers of public.customers for the rest of the transaction.
SELECT pg_advisory_xact_lock(1886220143, 2);

-- Serializes writers of public.sales (merge and reconcile) for the rest of the transaction.
SELECT pg_advisory_xact_lock(1886220143, 1);

-- Serializes writers of schema migrations for the rest of the transaction.
SELECT pg_advisory_xact_lock(1886220143, 0);

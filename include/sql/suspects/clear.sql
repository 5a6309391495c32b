-- No longer in doubt: read again and found as Ploomes has them (or confirmed gone).
DELETE FROM ploomes_sync.suspects WHERE stream = %(stream)s AND id = ANY(%(ids)s::bigint[]);

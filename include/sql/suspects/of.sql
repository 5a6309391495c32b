-- The records of a stream in doubt, the longest-doubted first, at most a given number.
SELECT id FROM ploomes_sync.suspects WHERE stream = %(stream)s ORDER BY found_at, id LIMIT %(limit)s;

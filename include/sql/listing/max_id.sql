-- Template: the highest id of a stream's public table, where a count listing stops (records with a
-- higher Id were created since the warehouse last read: none of them can be gone from it).
SELECT max(id) FROM {target};

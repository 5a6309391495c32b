-- One of the sync's own tables of a stream (staging, listing staging, lines staging, archive), as
-- its spec has it: made when missing, given the columns it lacks (never dropping one).
CREATE {unlogged} TABLE IF NOT EXISTS {table} ({definitions});
ALTER TABLE {table} {additions};

-- An index one of the sync's own tables of a stream needs.
CREATE INDEX {index} ON {table} ({columns});

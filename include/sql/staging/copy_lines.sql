-- Template (ploomes_sync.warehouse.statements): the lines of a stream's records (an order's or a
-- quote's products) into their staging, each with its record's LastUpdateDate.
COPY {line_stage} (run_id, parent_updated_at, {line_columns}) FROM STDIN

-- Template (ploomes_sync.warehouse.statements): {stage} and {columns} come from the stream's spec.
COPY {stage} (run_id, {columns}) FROM STDIN

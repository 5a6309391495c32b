COPY ploomes_sync.rejects (run_id, stream, record_id, reason, raw) FROM STDIN

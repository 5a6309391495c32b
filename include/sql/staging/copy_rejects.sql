COPY ploomes_sync.rejects (run_key, stream, record_id, reason, raw) FROM STDIN

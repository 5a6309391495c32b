COPY ploomes_sync.stage_deal_listing (run_key, id, created_at, status, deal_value, updated_at) FROM STDIN

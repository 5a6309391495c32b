COPY ploomes_sync.stage_deals (run_key, id, customer_id, title, deal_value, status, pipeline_id, stage_id,
                               owner_id, created_at, updated_at, closed_at) FROM STDIN

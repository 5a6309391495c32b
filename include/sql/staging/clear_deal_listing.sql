DELETE FROM ploomes_sync.stage_deal_listing WHERE run_key = %(run_key)s;

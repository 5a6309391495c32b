DELETE FROM ploomes_sync.stage_deals WHERE run_key = %(run_key)s;

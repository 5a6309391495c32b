DELETE FROM ploomes_sync.stage_runs WHERE run_key = %(run_key)s;

DELETE FROM ploomes_sync.stage_runs WHERE run_id = %(run_id)s;

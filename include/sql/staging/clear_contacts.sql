DELETE FROM ploomes_sync.stage_contacts WHERE run_key = %(run_key)s;

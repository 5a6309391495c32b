DELETE FROM ploomes_sync.rejects WHERE run_id = %(run_id)s AND stream = %(stream)s;

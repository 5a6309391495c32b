DELETE FROM ploomes_sync.rejects WHERE run_key = %(run_key)s AND stream = %(stream)s;

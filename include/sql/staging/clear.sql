-- Template: every staged row of one run in one staging table.
DELETE FROM {stage} WHERE run_id = %(run_id)s

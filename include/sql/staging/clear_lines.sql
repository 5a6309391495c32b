-- Template: every staged line of one run in one lines staging table.
DELETE FROM {line_stage} WHERE run_id = %(run_id)s

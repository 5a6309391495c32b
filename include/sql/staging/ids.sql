-- Template: the ids a run staged for a stream.
SELECT DISTINCT id FROM {stage} WHERE run_id = %(run_id)s;

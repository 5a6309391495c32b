-- What validate_by_year found: the per-year table and the check's counts (what it compared, what
-- it left out and why).
INSERT INTO ploomes_sync.run_history AS h (run_id, year_table, checks)
VALUES (%(run_id)s, %(year_table)s, %(checks)s)
ON CONFLICT (run_id) DO UPDATE SET year_table = EXCLUDED.year_table, checks = EXCLUDED.checks;

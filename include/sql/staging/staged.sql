-- The rows the run staged for the stream; no row when it staged none, or when its staging is gone:
-- the stage tables are UNLOGGED, so crash recovery empties them while stage_runs (logged) remains.
SELECT r.row_count
FROM ploomes_sync.stage_runs AS r
WHERE r.run_key = %(run_key)s
  AND r.stream = %(stream)s
  AND (r.row_count = 0
       OR CASE r.stream
              WHEN 'deals' THEN EXISTS (SELECT 1 FROM ploomes_sync.stage_deals AS s WHERE s.run_key = r.run_key)
              WHEN 'contacts' THEN EXISTS (SELECT 1 FROM ploomes_sync.stage_contacts AS s
                                           WHERE s.run_key = r.run_key)
              WHEN 'deal_listing' THEN EXISTS (SELECT 1 FROM ploomes_sync.stage_deal_listing AS s
                                               WHERE s.run_key = r.run_key)
              ELSE true
          END);

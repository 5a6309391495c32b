-- The helpers that bring an older table to the contract in place are installed before any pending
-- migration runs (include/sql/migrate/helpers.sql), anew each time, so that a database which
-- applied this step under an older version still gets the newest of them. This step checks they
-- are there.
SELECT ploomes_sync.cast_expression('id', 'N', 'bigint');

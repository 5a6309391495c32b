SELECT stream, value FROM ploomes_sync.watermarks ORDER BY stream;

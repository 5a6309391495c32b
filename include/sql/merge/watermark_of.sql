-- A stream's watermark (Ploomes' clock when its latest merged read began), if it has one.
SELECT value FROM ploomes_sync.watermarks WHERE stream = %(stream)s;

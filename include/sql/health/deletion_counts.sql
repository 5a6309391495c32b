-- Template (one stream's archive): how many of its rows were archived as gone from Ploomes in the
-- last %(days)s days.
SELECT count(*) FROM {archive} WHERE deleted_at > clock_timestamp() - make_interval(days => %(days)s);

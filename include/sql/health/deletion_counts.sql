-- How many rows were archived as gone from Ploomes in the last %(days)s days, per table.
SELECT (SELECT count(*) FROM ploomes_sync.deleted_sales
        WHERE deleted_at > clock_timestamp() - make_interval(days => %(days)s)) AS sales,
       (SELECT count(*) FROM ploomes_sync.deleted_customers
        WHERE deleted_at > clock_timestamp() - make_interval(days => %(days)s)) AS customers;

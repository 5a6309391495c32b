"""The Airflow Assets the sync updates: the warehouse contract's three tables.

The tasks that change a table list it as an outlet, so a dashboard's own DAG can run whenever the
sync has written it::

    from airflow.sdk import dag
    from ploomes_sync.assets import CUSTOMER_SALES

    @dag(schedule=[CUSTOMER_SALES])
    def refresh_dashboard(): ...

(or, without importing the package, ``Asset.ref(name="ploomes_sync.public.customer_sales")``).
"""

from __future__ import annotations

from airflow.sdk import Asset

GROUP = "ploomes_sync"

SALES = Asset(name="ploomes_sync.public.sales", uri="warehouse://sales_db/public/sales", group=GROUP)
CUSTOMERS = Asset(name="ploomes_sync.public.customers", uri="warehouse://sales_db/public/customers", group=GROUP)
CUSTOMER_SALES = Asset(name="ploomes_sync.public.customer_sales", uri="warehouse://sales_db/public/customer_sales",
                       group=GROUP)

"""The Airflow Assets the sync updates: the warehouse contract's tables.

The tasks that change a table list it as an outlet, so a dashboard's own DAG can run whenever the
sync has written it::

    from airflow.sdk import dag
    from ploomes_sync.assets import CUSTOMER_SALES

    @dag(schedule=[CUSTOMER_SALES])
    def refresh_dashboard(): ...

(or, without importing the package, ``Asset.ref(name="ploomes_sync.public.customer_sales")``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from airflow.sdk import Asset

if TYPE_CHECKING:
    from ploomes_sync.streams import Registry

GROUP = "ploomes_sync"


def asset_of(table: str) -> Asset:
    """The Asset of ``public.<table>`` (every stream's table, and ``customer_sales``)."""
    return Asset(name=f"ploomes_sync.public.{table}", uri=f"warehouse://sales_db/public/{table}", group=GROUP)


SALES = asset_of("sales")
CUSTOMERS = asset_of("customers")
CUSTOMER_SALES = asset_of("customer_sales")


def assets_of(streams: Registry) -> list[Asset]:
    """Every Asset the sync updates: each table the streams write, and ``customer_sales``."""
    return [*(asset_of(table) for stream in streams for table in stream.tables), CUSTOMER_SALES]

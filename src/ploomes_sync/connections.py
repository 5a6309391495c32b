"""The Airflow connections the DAGs' tasks open, by id (``sales_db``, ``ploomes_default``)."""

from __future__ import annotations

from typing import Any

from ploomes_sync.settings import SALES_DB_CONN_ID


def connect_warehouse(conn_id: str = SALES_DB_CONN_ID) -> Any:
    """A new psycopg connection to the warehouse of connection ``conn_id`` (see ``warehouse.connection``)."""
    from ploomes_sync.warehouse.connection import connect

    return connect(conn_id)


def budgeted_hook() -> Any:
    """A PloomesHook (connection ``ploomes_default``) that waits for the account's budget in the warehouse."""
    from ploomes_sync import tasks
    from ploomes_sync.hooks.ploomes import PloomesHook

    return PloomesHook(limiter=tasks.account_budget(connect_warehouse))

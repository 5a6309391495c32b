"""The Airflow connections the DAGs' tasks open, by id (``sales_db``, ``ploomes_default``)."""

from __future__ import annotations

from typing import Any

from airflow.providers.common.compat.sdk import AirflowFailException

from ploomes_sync.settings import SALES_DB_CONN_ID


class ConnectionMissing(AirflowFailException):
    """An Airflow connection the sync needs is not defined anywhere Airflow looks: a retry cannot help."""

    def __init__(self, conn_id: str, what: str) -> None:
        self.conn_id = conn_id
        super().__init__(
            f"Connection {conn_id!r} ({what}) is not defined: Airflow found it neither in its connections "
            f"(Admin > Connections), nor in the environment variable AIRFLOW_CONN_{conn_id.upper()}, nor in a "
            "secrets backend. Create it; if it is meant to come from the environment, check that variable's "
            "name (a misspelt one leaves the connection undefined) and that the scheduler's and workers' "
            "environments have it. Not retried."
        )


def airflow_connection(conn_id: str, what: str) -> Any:
    """Airflow's connection ``conn_id`` (``what`` says what it is for); :class:`ConnectionMissing` when
    it is not defined."""
    from airflow.sdk import BaseHook
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        return BaseHook.get_connection(conn_id)
    except AirflowNotFoundException:
        raise ConnectionMissing(conn_id, what) from None


def connect_warehouse(conn_id: str = SALES_DB_CONN_ID) -> Any:
    """A new psycopg connection to the warehouse of connection ``conn_id`` (see ``warehouse.connection``)."""
    from ploomes_sync.warehouse.connection import connect

    return connect(conn_id)


def budgeted_hook() -> Any:
    """A PloomesHook (connection ``ploomes_default``) that waits for the account's budget in the warehouse."""
    from ploomes_sync import tasks
    from ploomes_sync.hooks.ploomes import PloomesHook

    return PloomesHook(limiter=tasks.account_budget(connect_warehouse))

"""Reaching the warehouse: psycopg connections from an Airflow connection (``sales_db``).

Every caller builds them one way, with :func:`connect_kwargs`: the DAGs' tasks (:func:`connect`),
the API server's pool (``warehouse.pool``) and the triggerer's watch of the inbox. The arguments
are the postgres provider's: host, port, login, password, the schema as the database, and every
extra but those the provider itself does not pass to the driver
(``PostgresHook.ignored_extra_options``). So an extra such as ``sslmode`` or ``prepare_threshold``
(Supabase and its pooler) reaches every connection alike.
"""

from __future__ import annotations

from typing import Any

import psycopg

from ploomes_sync.settings import SALES_DB_CONN_ID

CONNECT_TIMEOUT_SECONDS = 10


def connect_kwargs(connection: str | Any = SALES_DB_CONN_ID) -> dict[str, Any]:
    """psycopg's ``connect`` arguments for an Airflow postgres connection (its id, or the connection)."""
    from airflow.providers.postgres.hooks.postgres import PostgresHook

    if isinstance(connection, str):
        from airflow.sdk import BaseHook

        connection = BaseHook.get_connection(connection)
    kwargs: dict[str, Any] = {"host": connection.host, "port": connection.port, "user": connection.login,
                              "password": connection.password, "dbname": connection.schema}
    for name, value in connection.extra_dejson.items():
        if name not in PostgresHook.ignored_extra_options:
            kwargs[name] = value
    kwargs.setdefault("connect_timeout", CONNECT_TIMEOUT_SECONDS)
    return {name: value for name, value in kwargs.items() if value is not None}


def connect(conn_id: str = SALES_DB_CONN_ID, **overrides: Any) -> psycopg.Connection:
    """A new connection to the warehouse of Airflow connection ``conn_id`` (``overrides`` win)."""
    return psycopg.connect(**{**connect_kwargs(conn_id), **overrides})

"""Opening warehouse connections, and the transactions, advisory locks and row fetching every
warehouse module runs on them.

Every caller opens them one way, with :func:`connect_kwargs` from an Airflow connection
(``sales_db``): the DAGs' tasks (:func:`connect`), the API server's pool (``warehouse.pool``) and the
triggerer's watch of the inbox. The arguments are the postgres provider's: host, port, login,
password, the schema as the database, and every extra but those the provider itself does not
pass to the driver (``PostgresHook.ignored_extra_options``), so an extra such as ``sslmode`` or
``prepare_threshold`` (Supabase and its pooler) reaches every connection alike.

Every public function of the package takes an open psycopg 3 connection, in autocommit mode or
not, that is idle (no transaction in progress); it runs its work in transaction(s) of its own and
leaves the connection idle again, committed or, after an error, rolled back.

No statement is ever prepared on the server (``prepare=False``): psycopg prepares a statement
after its fifth run on a connection, and behind a transaction-mode pooler (Supabase's on port
6543) the next transaction may land on a server session that never saw it. So the sync works
through a pooler whether or not the connection sets ``prepare_threshold`` to null.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from typing import Any, LiteralString

import psycopg
from psycopg import pq, sql
from psycopg.rows import dict_row, tuple_row

from ploomes_sync.settings import SALES_DB_CONN_ID
from ploomes_sync.warehouse.errors import ConnectionNotIdle, WarehouseError, WarehouseRefused
from ploomes_sync.warehouse.sqlfiles import load

Lock = str  # a public table's name (every stream's target, "customer_sales") or "migrations"
Query = LiteralString | sql.Composable  # fixed text, or a template filled with identifiers
Params = Mapping[str, Any] | None
CONNECT_TIMEOUT_SECONDS = 10


def connect_kwargs(connection: str | Any = SALES_DB_CONN_ID) -> dict[str, Any]:
    """psycopg's ``connect`` arguments for an Airflow postgres connection (its id, or the connection)."""
    from airflow.providers.postgres.hooks.postgres import PostgresHook

    if isinstance(connection, str):
        from ploomes_sync.connections import airflow_connection

        connection = airflow_connection(connection, "the warehouse, type postgres")
    fields = {"host": connection.host, "port": connection.port, "user": connection.login,
              "password": connection.password, "dbname": connection.schema}
    kwargs: dict[str, Any] = {name: value for name, value in fields.items() if value is not None}
    for name, value in connection.extra_dejson.items():  # a null stays: {"prepare_threshold": null}
        if name not in PostgresHook.ignored_extra_options:
            kwargs[name] = value
    kwargs.setdefault("connect_timeout", CONNECT_TIMEOUT_SECONDS)
    return kwargs


# What PostgreSQL (or a pooler in front of it) answers when the connection's settings are wrong: a
# retry gets the same answer. Anything else (refused, timed out, too many clients, starting up) may pass.
_SETTINGS_REFUSED = re.compile(
    r'database "[^"]*" does not exist|role "[^"]*" does not exist|password authentication failed|'
    r"no pg_hba\.conf entry|is not permitted to log in|no password supplied|Tenant or user not found|"
    r"server does not support SSL|invalid (?:sslmode|connection option)", re.IGNORECASE)


def connect(conn_id: str = SALES_DB_CONN_ID, **overrides: Any) -> psycopg.Connection:
    """A new connection to the warehouse of Airflow connection ``conn_id`` (``overrides`` win). A
    refusal a retry cannot change (no such database, a login refused) raises :class:`WarehouseRefused`,
    naming the connection; a network failure raises psycopg's error, for the task's retries."""
    try:
        return psycopg.connect(**{**connect_kwargs(conn_id), **overrides})
    except psycopg.OperationalError as exc:
        cause = " ".join(str(exc).split())
        if _SETTINGS_REFUSED.search(cause):
            raise WarehouseRefused(conn_id, cause) from None
        raise


@contextmanager
def transaction(conn: psycopg.Connection) -> Iterator[psycopg.Connection]:
    """One transaction of our own: committed at the end, rolled back on error."""
    status = conn.info.transaction_status
    if status != pq.TransactionStatus.IDLE:
        raise ConnectionNotIdle(
            f"The connection is not idle (transaction status {status.name}): commit or roll back "
            "before calling the warehouse functions, which manage their own transactions."
        )
    with conn.transaction():
        yield conn


def advisory_lock(conn: psycopg.Connection, name: Lock) -> None:
    """Take the transaction-scoped advisory lock that serializes writers of ``name``."""
    conn.execute(load("locks/lock.sql"), {"name": name}, prepare=False)


def fetchone(conn: psycopg.Connection, query: Query, params: Params = None) -> tuple[Any, ...] | None:
    """First row as a tuple, whatever row factory the connection was configured with."""
    with conn.cursor(row_factory=tuple_row) as cur:
        return cur.execute(query, params, prepare=False).fetchone()


def fetchrow(conn: psycopg.Connection, query: Query, params: Params = None) -> tuple[Any, ...]:
    """The one row a query always answers (an aggregate, a RETURNING of one row)."""
    row = fetchone(conn, query, params)
    if row is None:
        raise WarehouseError(f"Expected a row, got none from: {str(query).strip().splitlines()[0][:200]}")
    return row


def fetchall(conn: psycopg.Connection, query: Query, params: Params = None) -> list[tuple[Any, ...]]:
    """All rows as tuples."""
    with conn.cursor(row_factory=tuple_row) as cur:
        return cur.execute(query, params, prepare=False).fetchall()


def fetchdicts(conn: psycopg.Connection, query: Query, params: Params = None) -> list[dict[str, Any]]:
    """All rows as dicts."""
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(query, params, prepare=False).fetchall()


def execute(conn: psycopg.Connection, query: Query, params: Params = None) -> int:
    """Run one statement; return its row count."""
    with conn.cursor() as cur:
        return cur.execute(query, params, prepare=False).rowcount


def require_aware(value: datetime | None, name: str) -> None:
    """Refuse naive datetimes: PostgreSQL would read them in the session's time zone."""
    if value is not None and (value.tzinfo is None or value.utcoffset() is None):
        raise ValueError(f"{name} must be a timezone-aware datetime, got {value!r}")

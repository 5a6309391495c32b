"""Transactions, advisory locks and row fetching shared by the warehouse modules.

Every public function of the package takes an open psycopg 3 connection, in autocommit mode or
not, that is idle (no transaction in progress); it runs its work in transaction(s) of its own and
leaves the connection idle again, committed or, after an error, rolled back.

No statement is ever prepared on the server (``prepare=False``): psycopg prepares a statement
after its fifth run on a connection, and behind a transaction-mode pooler (Supabase's on port
6543) the next transaction may land on a server session that never saw it. So the sync works
through a pooler whether or not the connection sets ``prepare_threshold`` to null.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from typing import Any, LiteralString

import psycopg
from psycopg import pq, sql
from psycopg.rows import dict_row, tuple_row

from ploomes_sync.warehouse.errors import ConnectionNotIdle, WarehouseError
from ploomes_sync.warehouse.sqlfiles import load

Lock = str  # a public table's name (every stream's target, "customer_sales") or "migrations"
Query = LiteralString | sql.Composable  # fixed text, or a template filled with identifiers
Params = Mapping[str, Any] | None


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

"""The API server's warehouse connections: a small pool per process, built from connection ``sales_db``.

The webhook receiver must answer Ploomes fast, so it does not open a connection per delivery: a
pool of a few connections (psycopg_pool) is made on first use with the arguments every caller
uses (``warehouse.connection``), read again every minute (a changed connection replaces the pool).
Connections are in autocommit mode and never prepare statements (so a transaction-mode pooler
such as Supabase's works).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from psycopg_pool import ConnectionPool

from ploomes_sync.settings import SALES_DB_CONN_ID
from ploomes_sync.warehouse.connection import CONNECT_TIMEOUT_SECONDS, connect_kwargs

REREAD_SECONDS = 60.0
MAX_CONNECTIONS = 4


class WarehousePool:
    """Connections to the warehouse named by an Airflow connection, shared by a process's requests."""

    def __init__(self, conn_id: str = SALES_DB_CONN_ID, max_size: int = MAX_CONNECTIONS) -> None:
        self.conn_id = conn_id
        self.max_size = max_size
        self._lock = threading.Lock()
        self._pool: ConnectionPool | None = None
        self._kwargs: dict | None = None
        self._read_at = 0.0

    def _current(self) -> ConnectionPool:
        with self._lock:
            if self._pool is not None and time.monotonic() - self._read_at < REREAD_SECONDS:
                return self._pool
            kwargs = {**connect_kwargs(self.conn_id), "autocommit": True, "prepare_threshold": None}
            self._read_at = time.monotonic()
            if self._pool is None or kwargs != self._kwargs:
                old, self._kwargs = self._pool, kwargs
                self._pool = ConnectionPool(kwargs=kwargs, min_size=0, max_size=self.max_size, open=True,
                                            timeout=CONNECT_TIMEOUT_SECONDS, check=ConnectionPool.check_connection,
                                            name=f"ploomes-sync-{self.conn_id}")
                if old is not None:
                    old.close(timeout=0)
            return self._pool

    @contextmanager
    def connection(self, timeout: float | None = None) -> Iterator[psycopg.Connection]:
        """A connection of the pool, idle and in autocommit mode, for the duration of the block
        (waiting at most ``timeout`` seconds for one, else the pool's own bound)."""
        with self._current().connection(timeout=timeout) as conn:
            yield conn

    def close(self) -> None:
        with self._lock:
            if self._pool is not None:
                self._pool.close(timeout=0)
                self._pool = None

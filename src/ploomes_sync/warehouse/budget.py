"""The Ploomes account's request budget, held in the warehouse for every process that calls the API.

The API allows 120 requests a minute per account, shared by every key and app of the account. The
sync's own callers run in separate processes, often on separate machines: the extracts side by
side, the deletion listing, the webhook applier. They all reserve their request slots in one row
of ``ploomes_sync.api_budget`` (``include/sql/budget/reserve.sql``), so the warehouse's clock
spaces them as one, and a 429 one of them meets holds all of them back.

A :class:`WarehouseBudget` fits the hook's ``limiter`` (see ``ploomes_sync.api.ratelimit``).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import timedelta
from typing import LiteralString

import psycopg

from ploomes_sync.api.ratelimit import SECONDS_PER_MINUTE, wait_until
from ploomes_sync.warehouse.sqlfiles import load

log = logging.getLogger(__name__)


class WarehouseBudget:
    """Spaces the requests of every process to ``requests_per_minute`` for ``account`` (its base URL)."""

    def __init__(self, connect: Callable[[], psycopg.Connection], account: str, requests_per_minute: float) -> None:
        if not requests_per_minute > 0:
            raise ValueError(f"requests_per_minute must be positive, got {requests_per_minute!r}")
        self.account = account
        self.requests_per_minute = float(requests_per_minute)
        self.interval = timedelta(seconds=SECONDS_PER_MINUTE / self.requests_per_minute)
        self._connect = connect
        self._conn: psycopg.Connection | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"WarehouseBudget({self.account!r}, requests_per_minute={self.requests_per_minute:g})"

    def _execute(self, query: LiteralString, params: dict[str, object]) -> tuple | None:
        with self._lock:
            for attempt in (1, 2):
                if self._conn is None or self._conn.closed:
                    self._conn = self._connect()
                    self._conn.autocommit = True
                try:
                    return self._conn.execute(query, params, prepare=False).fetchone()
                except psycopg.OperationalError:
                    self._conn.close()
                    self._conn = None
                    if attempt == 2:
                        raise
                    log.warning("Lost the warehouse connection of the API budget; connecting again")
        return None

    def acquire(self, cancel: threading.Event | None = None, cost: float = 1.0) -> float:
        """Reserve the next slot (``cost`` slots wide) and wait for it; return the seconds waited."""
        row = self._execute(load("budget/reserve.sql"), {"account": self.account, "interval": self.interval * cost})
        wait = float(row[0]) if row else 0.0
        wait_until(wait, cancel)
        return wait

    def penalize(self, seconds: float) -> None:
        """No slot of the account starts within ``seconds`` from now."""
        self._execute(load("budget/penalize.sql"),
                      {"account": self.account, "seconds": float(max(0.0, seconds))})

    def close(self) -> None:
        """Close its connection."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

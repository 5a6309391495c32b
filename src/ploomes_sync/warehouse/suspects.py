"""Records in doubt (``ploomes_sync.suspects``): what a check found different, or a run could not
read again, is read again by Id by the next runs until it is found as Ploomes has it."""

from __future__ import annotations

from collections.abc import Iterable

import psycopg

from ploomes_sync.warehouse.connection import execute, fetchall, transaction
from ploomes_sync.warehouse.sqlfiles import load

MAX_SUSPECTS_READ = 2000  # a run reads at most this many of a stream again (50 requests by Id)


def add(conn: psycopg.Connection, stream: str, reasons: dict[int, str], run_id: str) -> None:
    """Doubt these records of ``stream`` (id -> why), found by run ``run_id``."""
    if not reasons:
        return
    ids = sorted(reasons)
    with transaction(conn):
        execute(conn, load("suspects/add.sql"), {"stream": stream, "ids": ids,
                                                 "reasons": [reasons[i] for i in ids], "run_id": run_id})


def of(conn: psycopg.Connection, stream: str, limit: int = MAX_SUSPECTS_READ) -> list[int]:
    """The records of ``stream`` in doubt, the longest-doubted first."""
    with transaction(conn):
        return [row[0] for row in fetchall(conn, load("suspects/of.sql"), {"stream": stream, "limit": limit})]


def clear(conn: psycopg.Connection, stream: str, ids: Iterable[int]) -> None:
    """No longer doubt these records of ``stream``."""
    ids = sorted(set(ids))
    if ids:
        with transaction(conn):
            execute(conn, load("suspects/clear.sql"), {"stream": stream, "ids": ids})

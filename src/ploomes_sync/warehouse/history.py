"""``ploomes_sync.run_history`` (one row per run) and ``ploomes_sync.watermarks``.

Every writer is an upsert, so a retried task (or a failure callback that runs before the run's
row exists) never fails for want of a row.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Protocol

import psycopg
from psycopg.types.json import Jsonb

from ploomes_sync.warehouse.connection import execute, fetchall, fetchdicts, fetchrow, require_aware, transaction
from ploomes_sync.warehouse.sqlfiles import load

log = logging.getLogger(__name__)


class _JsonTable(Protocol):
    def to_json(self) -> list[dict[str, Any]]: ...


def _instants(values: Mapping[str, datetime] | None) -> Jsonb | None:
    if values is None:
        return None
    return Jsonb({key: value.isoformat() for key, value in values.items()})


def start_run(
    conn: psycopg.Connection,
    run_key: str,
    *,
    dag_id: str,
    run_type: str,
    mode: str,
    window_start: datetime | None,
    window_end: datetime | None,
    watermarks_before: Mapping[str, datetime] | None,
) -> None:
    """Open the run's row (status ``running``); calling again reopens it and keeps ``started_at``."""
    require_aware(window_start, "window_start")
    require_aware(window_end, "window_end")
    with transaction(conn):
        execute(conn, load("history/start_run.sql"), {
            "run_key": run_key, "dag_id": dag_id, "run_type": run_type, "mode": mode,
            "window_start": window_start, "window_end": window_end,
            "watermarks_before": _instants(watermarks_before),
        })


def record_stream(conn: psycopg.Connection, run_key: str, stream: str, **counts: int) -> None:
    """Set ``counts`` (fetched, inserted, updated, unchanged, deleted, rejected...) of one stream.

    The given keys overwrite that stream's earlier values; the other keys and streams are kept.
    """
    with transaction(conn):
        execute(conn, load("history/record_stream.sql"),
                {"run_key": run_key, "stream": stream, "counts": Jsonb(counts)})


def add_api_usage(conn: psycopg.Connection, run_key: str, requests: int, throttled: int) -> None:
    """Add API requests made (and how many were answered 429) to the run's totals."""
    with transaction(conn):
        execute(conn, load("history/add_api_usage.sql"),
                {"run_key": run_key, "requests": requests, "throttled": throttled})


def finish_run(
    conn: psycopg.Connection,
    run_key: str,
    *,
    status: str,
    year_table: _JsonTable | list[dict[str, Any]] | None = None,
    error: str | None = None,
    watermarks_after: Mapping[str, datetime] | None = None,
) -> None:
    """Close the run with ``status``; what is not given keeps its recorded value."""
    table = year_table.to_json() if year_table is not None and hasattr(year_table, "to_json") else year_table
    with transaction(conn):
        execute(conn, load("history/finish_run.sql"), {
            "run_key": run_key, "status": status, "error": error,
            "year_table": None if table is None else Jsonb(table),
            "watermarks_after": _instants(watermarks_after),
        })
    log.info("Run %s finished: %s", run_key, status)


def get_watermarks(conn: psycopg.Connection) -> dict[str, datetime]:
    """Every stream's watermark."""
    with transaction(conn):
        return dict(fetchall(conn, load("history/get_watermarks.sql")))


def last_full_check(conn: psycopg.Connection) -> datetime | None:
    """When the last successful whole-account check ended (None when there was none)."""
    with transaction(conn):
        (finished_at,) = fetchrow(conn, load("history/last_full_check.sql"))
    return finished_at


def get_run(conn: psycopg.Connection, run_key: str) -> dict[str, Any]:
    """The run's row as a dict (JSON columns decoded); ``KeyError`` when there is none."""
    with transaction(conn):
        rows = fetchdicts(conn, load("history/get_run.sql"), {"run_key": run_key})
    if not rows:
        raise KeyError(f"No run {run_key!r} in ploomes_sync.run_history")
    return rows[0]

"""``ploomes_sync.run_history`` (one row per run) and ``ploomes_sync.watermarks``.

Every writer is an upsert, so a retried task (or a failure callback that runs before the run's
row exists) never fails for want of a row.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from ploomes_sync.warehouse.connection import execute, fetchall, fetchdicts, fetchrow, require_aware, transaction
from ploomes_sync.warehouse.sqlfiles import load

log = logging.getLogger(__name__)


def _instants(values: Mapping[str, datetime] | None) -> Jsonb | None:
    if values is None:
        return None
    return Jsonb({key: value.isoformat() for key, value in values.items()})


def start_run(
    conn: psycopg.Connection,
    run_id: str,
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
            "run_id": run_id, "dag_id": dag_id, "run_type": run_type, "mode": mode,
            "window_start": window_start, "window_end": window_end,
            "watermarks_before": _instants(watermarks_before),
        })


def record_stream(conn: psycopg.Connection, run_id: str, stream: str, **counts: int) -> None:
    """Set ``counts`` (fetched, inserted, updated, unchanged, deleted, rejected...) of one stream.

    The given keys overwrite that stream's earlier values; the other keys and streams are kept.
    """
    with transaction(conn):
        execute(conn, load("history/record_stream.sql"),
                {"run_id": run_id, "stream": stream, "counts": Jsonb(counts)})


def add_api_usage(conn: psycopg.Connection, run_id: str, requests: int, throttled: int) -> None:
    """Add API requests made (and how many were answered 429) to the run's totals."""
    with transaction(conn):
        execute(conn, load("history/add_api_usage.sql"),
                {"run_id": run_id, "requests": requests, "throttled": throttled})


def finish_run(
    conn: psycopg.Connection,
    run_id: str,
    *,
    status: str,
    error: str | None = None,
    watermarks_after: Mapping[str, datetime] | None = None,
) -> None:
    """Close the run with ``status``; what is not given keeps its recorded value."""
    with transaction(conn):
        execute(conn, load("history/finish_run.sql"), {
            "run_id": run_id, "status": status, "error": error, "watermarks_after": _instants(watermarks_after),
        })
    log.info("Run %s finished: %s", run_id, status)


def record_validation(conn: psycopg.Connection, run_id: str, *, year_table: list[dict[str, Any]] | None,
                 checks: Mapping[str, Any]) -> None:
    """Record what the check found: the per-year table (deals) and each stream's counts."""
    with transaction(conn):
        execute(conn, load("history/record_validation.sql"), {
            "run_id": run_id, "year_table": None if year_table is None else Jsonb(year_table),
            "checks": Jsonb(dict(checks))})


def record_listing(conn: psycopg.Connection, run_id: str, stream: str, info: Mapping[str, Any]) -> None:
    """Record what a listing of ``stream`` did (method, requests, ranges...)."""
    with transaction(conn):
        execute(conn, load("history/record_listing.sql"),
                {"run_id": run_id, "stream": stream, "info": Jsonb(dict(info))})


def get_watermarks(conn: psycopg.Connection) -> dict[str, datetime]:
    """Every stream's watermark."""
    with transaction(conn):
        return dict(fetchall(conn, load("history/get_watermarks.sql")))


def warehouse_now(conn: psycopg.Connection) -> datetime:
    """The warehouse's clock now (``clock_timestamp()``): the one every synced_at, deleted_at and
    finished_at is compared with."""
    with transaction(conn):
        (now,) = fetchrow(conn, load("history/now.sql"))
    return now


def get_run(conn: psycopg.Connection, run_id: str) -> dict[str, Any]:
    """The run's row as a dict (JSON columns decoded); ``KeyError`` when there is none."""
    with transaction(conn):
        rows = fetchdicts(conn, load("history/get_run.sql"), {"run_id": run_id})
    if not rows:
        raise KeyError(f"No run {run_id!r} in ploomes_sync.run_history")
    return rows[0]

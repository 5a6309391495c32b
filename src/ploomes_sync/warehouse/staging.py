"""Typed rows and rejects into ``ploomes_sync``'s staging tables, by COPY, keyed by run.

A stream's rows go in with :func:`stage_rows` (any iterable, consumed lazily), which also records
in ``ploomes_sync.stage_runs`` that the run staged the stream; the merge refuses a stream without
that record. A retried extract calls :func:`clear_stage` first, so staging stays idempotent.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import timedelta
from typing import Any, Protocol

import psycopg

from ploomes_sync.warehouse.connection import execute, fetchall, fetchone, transaction
from ploomes_sync.warehouse.errors import StageMissing
from ploomes_sync.warehouse.sqlfiles import load

log = logging.getLogger(__name__)

# Row layouts: the contract with ploomes_sync.records (the COPY statements list the same columns).
DEAL_COLUMNS = ("id", "customer_id", "title", "deal_value", "status", "pipeline_id", "stage_id", "owner_id",
                "created_at", "updated_at", "closed_at")
CONTACT_COLUMNS = ("id", "name", "legal_name", "cnpj", "zip_code", "is_client", "created_at", "updated_at")
DEAL_LISTING_COLUMNS = ("id", "created_at", "status", "deal_value", "updated_at")
STREAM_COLUMNS: dict[str, tuple[str, ...]] = {
    "deals": DEAL_COLUMNS,
    "contacts": CONTACT_COLUMNS,
    "deal_listing": DEAL_LISTING_COLUMNS,
}
STREAMS = tuple(STREAM_COLUMNS)


class RejectLike(Protocol):
    """What :func:`stage_rejects` reads from each reject (``records.Reject`` fits)."""

    record_id: str | None
    reason: str
    raw: str


def _columns(stream: str) -> tuple[str, ...]:
    try:
        return STREAM_COLUMNS[stream]
    except KeyError:
        raise ValueError(f"Unknown stream {stream!r}; expected one of {STREAMS}") from None


def stage_rows(conn: psycopg.Connection, stream: str, run_key: str, rows: Iterable[tuple[Any, ...]]) -> int:
    """COPY ``rows`` (tuples in the stream's column order) into its staging table; return how many.

    One transaction: either every row is staged (and the stream recorded as staged for the run)
    or, if the iterable or the database fails, none. Rows add to what the run already staged.
    """
    width = len(_columns(stream))
    count = 0
    with transaction(conn), conn.cursor() as cur:
        with cur.copy(load(f"staging/copy_{stream}.sql")) as copy:
            write_row = copy.write_row
            for row in rows:
                if len(row) != width:
                    raise ValueError(f"{stream} row {count + 1} has {len(row)} fields, expected {width}: "
                                     f"{_columns(stream)}")
                write_row((run_key, *row))
                count += 1
        cur.execute(load("staging/register.sql"), {"run_key": run_key, "stream": stream, "row_count": count})
    log.info("Staged %s %s rows for run %s", count, stream, run_key)
    return count


def _reject_fields(reject: RejectLike | tuple[Any, ...]) -> tuple[Any, ...]:
    if isinstance(reject, tuple):
        record_id, reason, raw = reject
        return record_id, reason, raw
    return reject.record_id, reject.reason, reject.raw


def stage_rejects(conn: psycopg.Connection, run_key: str, stream: str,
                  rejects: Iterable[RejectLike | tuple[Any, ...]]) -> int:
    """COPY rejects (``record_id, reason, raw``) into ``ploomes_sync.rejects``; return how many."""
    count = 0
    with transaction(conn), conn.cursor() as cur, cur.copy(load("staging/copy_rejects.sql")) as copy:
        for reject in rejects:
            copy.write_row((run_key, stream, *_reject_fields(reject)))
            count += 1
    if count:
        log.info("Set aside %s %s rejects for run %s", count, stream, run_key)
    return count


def _clear(conn: psycopg.Connection, run_key: str, stream: str) -> int:
    """Remove the run's staged rows of ``stream`` and its record of them (inside a transaction)."""
    removed = execute(conn, load(f"staging/clear_{stream}.sql"), {"run_key": run_key})
    execute(conn, load("staging/unregister.sql"), {"run_key": run_key, "stream": stream})
    return removed


def clear_stage(conn: psycopg.Connection, run_key: str, stream: str) -> int:
    """Remove what the run staged for ``stream`` (a retried extract starts clean); return rows removed."""
    _columns(stream)
    with transaction(conn):
        removed = _clear(conn, run_key, stream)
    if removed:
        log.info("Cleared %s staged %s rows of run %s", removed, stream, run_key)
    return removed


def stage_listing_from_deals(conn: psycopg.Connection, run_key: str) -> int:
    """Stage the run's ``deal_listing`` from its staged deals (replacing any); return rows staged.

    For runs whose deals extract read every deal of their scope (full and range runs).
    """
    with transaction(conn):
        _clear(conn, run_key, "deal_listing")
        require_staged(conn, run_key, "deals")
        count = execute(conn, load("staging/listing_from_deals.sql"), {"run_key": run_key})
        execute(conn, load("staging/register.sql"), {"run_key": run_key, "stream": "deal_listing", "row_count": count})
    log.info("Staged %s deal_listing rows for run %s from its deals staging", count, run_key)
    return count


def clear_rejects(conn: psycopg.Connection, run_key: str, stream: str) -> int:
    """Remove the run's rejects of ``stream`` (a retried extract records them again)."""
    with transaction(conn):
        return execute(conn, load("staging/clear_rejects.sql"), {"run_key": run_key, "stream": stream})


def _drop(conn: psycopg.Connection, run_key: str) -> int:
    params = {"run_key": run_key}
    removed = sum(execute(conn, load(f"staging/clear_{stream}.sql"), params) for stream in STREAMS)
    execute(conn, load("staging/drop_run.sql"), params)
    return removed


def drop_stage(conn: psycopg.Connection, run_key: str) -> int:
    """Remove every staged row of the run (its rejects stay); return rows removed."""
    with transaction(conn):
        removed = _drop(conn, run_key)
    log.info("Dropped %s staged rows of run %s", removed, run_key)
    return removed


def purge_stale_stage(conn: psycopg.Connection, older_than: timedelta | float) -> int:
    """Remove the staging of runs that last staged longer than ``older_than`` ago (a number: days).

    Housekeeping for runs abandoned before their last task dropped their staging. Returns rows removed.
    """
    age = older_than if isinstance(older_than, timedelta) else timedelta(days=older_than)
    if age <= timedelta(0):
        raise ValueError(f"older_than must be positive, got {older_than!r}")
    with transaction(conn):
        run_keys = [row[0] for row in fetchall(conn, load("staging/stale_runs.sql"), {"older_than": age})]
        removed = sum(_drop(conn, run_key) for run_key in run_keys)
    if run_keys:
        log.info("Purged %s staged rows of %s abandoned runs: %s", removed, len(run_keys), run_keys)
    return removed


def require_staged(conn: psycopg.Connection, run_key: str, stream: str) -> int:
    """The number of rows the run staged for ``stream``; :class:`StageMissing` when it staged none.

    Call inside a transaction.
    """
    row = fetchone(conn, load("staging/staged.sql"), {"run_key": run_key, "stream": stream})
    if row is None:
        raise StageMissing(run_key, stream)
    return int(row[0])

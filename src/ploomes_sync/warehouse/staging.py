"""Typed rows and rejects into ``ploomes_sync``'s staging tables, by COPY, keyed by the run's id.

A stream's rows go in with :func:`stage_rows` (any iterable, consumed lazily), committed every
``batch_rows`` rows so that a long extract never holds one transaction open for its whole read
(a 300,000-deal read at 120 requests a minute takes 9 minutes; an open transaction that long holds
back vacuum). The staging counts only once :func:`stage_rows` registers it in
``ploomes_sync.stage_runs`` at the end; the merge refuses a stream without that record. A retried
extract calls :func:`clear_stage` first, so staging stays idempotent.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

import psycopg

from ploomes_sync.streams import Stream
from ploomes_sync.warehouse.connection import execute, fetchall, fetchone, transaction
from ploomes_sync.warehouse.errors import StageMissing
from ploomes_sync.warehouse.sqlfiles import load
from ploomes_sync.warehouse.statements import statement

log = logging.getLogger(__name__)

DEFAULT_BATCH_ROWS = 3000  # rows per staging transaction: ten full pages


class RejectLike(Protocol):
    """What :func:`stage_rejects` reads from each reject (``records.Reject`` fits)."""

    record_id: str | None
    reason: str
    raw: str


@dataclass(frozen=True)
class Staged:
    """A stream's registered staging: how many rows, and when its read began on each clock."""

    row_count: int
    read_started_at: datetime | None  # Ploomes' clock (the Date of the read's first answer)
    read_started_wh: datetime | None  # the warehouse's clock
    read_ended_at: datetime | None = None  # Ploomes' clock when it ended: no record it read changed later
    complete: bool = True  # it got a record at least, and every record Ploomes counted: it may move a watermark


def stage_rows(conn: psycopg.Connection, stream: Stream, run_id: str, rows: Iterable[tuple[Any, ...]], *,
               batch_rows: int = DEFAULT_BATCH_ROWS) -> int:
    """COPY ``rows`` (tuples in the stream's column order) into its staging; return how many.

    A listing is a stream of its own (``stream.listing()``), with a staging table of its own.
    Commits every ``batch_rows`` rows; a failure leaves what was committed unregistered (the next
    attempt clears it).
    """
    width = len(stream.columns)
    copy_statement = statement("staging/copy.sql", stream)
    count = 0
    iterator = iter(rows)
    exhausted = False
    while not exhausted:
        in_batch = 0
        with transaction(conn), conn.cursor() as cur, cur.copy(copy_statement) as copy:
            write_row = copy.write_row
            for row in iterator:
                if len(row) != width:
                    raise ValueError(f"{stream.name} row {count + 1} has {len(row)} fields, expected {width}: "
                                     f"{stream.column_names}")
                write_row((run_id, *row))
                count += 1
                in_batch += 1
                if in_batch >= batch_rows:
                    break
            else:
                exhausted = True
        if in_batch:
            log.debug("Committed %s staged %s rows of run %s", in_batch, stream.name, run_id)
    return count


def stage_lines(conn: psycopg.Connection, stream: Stream, run_id: str, rows: Iterable[tuple[Any, ...]]) -> int:
    """COPY the lines of ``stream``'s records (each: the record's LastUpdateDate, then the line's
    columns, :class:`ploomes_sync.streams.Lines`) into their staging; return how many."""
    count = 0
    with transaction(conn), conn.cursor() as cur, cur.copy(statement("staging/copy_lines.sql", stream)) as copy:
        for row in rows:
            copy.write_row((run_id, *row))
            count += 1
    return count


def register_stage(conn: psycopg.Connection, stream_name: str, run_id: str, row_count: int, *,
                   read_started_at: datetime | None, read_started_wh: datetime | None,
                   read_ended_at: datetime | None = None, complete: bool = True) -> None:
    """Record the stream's staging as done (what :func:`require_staged` checks); ``complete``: the read
    got every record Ploomes counted (else the load leaves the watermark where it was)."""
    with transaction(conn):
        execute(conn, load("staging/register.sql"), {
            "run_id": run_id, "stream": stream_name, "row_count": row_count,
            "read_started_at": read_started_at, "read_started_wh": read_started_wh, "read_ended_at": read_ended_at,
            "complete": complete})
    log.info("Staged %s %s rows for run %s", row_count, stream_name, run_id)


def stage_rejects(conn: psycopg.Connection, run_id: str, stream_name: str,
                  rejects: Iterable[RejectLike | tuple[Any, ...]]) -> int:
    """COPY rejects (``record_id, reason, raw``) into ``ploomes_sync.rejects``; return how many."""
    count = 0
    with transaction(conn), conn.cursor() as cur, cur.copy(load("staging/copy_rejects.sql")) as copy:
        for reject in rejects:
            fields = reject if isinstance(reject, tuple) else (reject.record_id, reject.reason, reject.raw)
            copy.write_row((run_id, stream_name, *fields))
            count += 1
    if count:
        log.info("Set aside %s %s rejects for run %s", count, stream_name, run_id)
    return count


def clear_stage(conn: psycopg.Connection, stream: Stream, run_id: str) -> int:
    """Remove what the run staged for ``stream``, its registration and its rejects; return rows removed."""
    name = stream.name
    with transaction(conn):
        removed = execute(conn, statement("staging/clear.sql", stream), {"run_id": run_id})
        if stream.lines is not None:
            execute(conn, statement("staging/clear_lines.sql", stream), {"run_id": run_id})
        execute(conn, load("staging/unregister.sql"), {"run_id": run_id, "stream": name})
        execute(conn, load("staging/clear_rejects.sql"), {"run_id": run_id, "stream": name})
    if removed:
        log.info("Cleared %s staged %s rows of run %s", removed, name, run_id)
    return removed


def require_staged(conn: psycopg.Connection, stream: Stream, run_id: str) -> Staged:
    """The stream's registered staging; :class:`StageMissing` when there is none. Call in a transaction."""
    row = fetchone(conn, statement("staging/staged.sql", stream), {"run_id": run_id, "stream": stream.name})
    if row is None:
        raise StageMissing(run_id, stream.name)
    return Staged(int(row[0]), row[1], row[2], row[3], row[4])


def staged_ids(conn: psycopg.Connection, stream: Stream, run_id: str) -> set[int]:
    """The ids the run staged for ``stream``."""
    with transaction(conn):
        return {row[0] for row in fetchall(conn, statement("staging/ids.sql", stream), {"run_id": run_id})}


def rejected_ids(conn: psycopg.Connection, stream_name: str, run_id: str) -> set[str]:
    """The record ids (as recorded: text) the run set aside for ``stream_name``."""
    with transaction(conn):
        return {row[0] for row in fetchall(conn, load("staging/rejected_ids.sql"),
                                           {"run_id": run_id, "stream": stream_name})}


def staged(conn: psycopg.Connection, stream: Stream, run_id: str) -> Staged:
    """:func:`require_staged` in a transaction of its own."""
    with transaction(conn):
        return require_staged(conn, stream, run_id)


def drop_stage(conn: psycopg.Connection, run_id: str, streams: Iterable[Stream]) -> int:
    """Remove every staged row of the run (rejects and listings stay); return rows removed."""
    with transaction(conn):
        removed = _drop(conn, run_id, streams)
    log.info("Dropped %s staged rows of run %s", removed, run_id)
    return removed


def _drop(conn: psycopg.Connection, run_id: str, streams: Iterable[Stream]) -> int:
    params = {"run_id": run_id}
    removed = 0
    for stream in streams:
        for staging in (stream, stream.listing()):
            removed += execute(conn, statement("staging/clear.sql", staging), params)
        if stream.lines is not None:
            removed += execute(conn, statement("staging/clear_lines.sql", stream), params)
    execute(conn, load("staging/drop_run.sql"), params)
    return removed


def purge_stale_stage(conn: psycopg.Connection, streams: Iterable[Stream], older_than: timedelta | float) -> int:
    """Remove the staging of runs that last staged longer than ``older_than`` ago (a number: days).

    Housekeeping for runs abandoned before their last task dropped their staging. Returns rows removed.
    """
    age = older_than if isinstance(older_than, timedelta) else timedelta(days=older_than)
    if age <= timedelta(0):
        raise ValueError(f"older_than must be positive, got {older_than!r}")
    streams = list(streams)
    with transaction(conn):
        run_ids = [row[0] for row in fetchall(conn, load("staging/stale_runs.sql"), {"older_than": age})]
        removed = sum(_drop(conn, run_id, streams) for run_id in run_ids)
        execute(conn, load("listing/purge.sql"), {"older_than": age})
    if run_ids:
        log.info("Purged %s staged rows of %s abandoned runs: %s", removed, len(run_ids), run_ids)
    return removed

"""Staging -> ``public``: the upsert of a stream's staged rows, in one short transaction.

The transaction takes the advisory lock of the table it writes, so runs that overlap (the
schedule, backfills, the webhook applier) take turns instead of deadlocking, and a reader sees the
table before or after, never half-way. In the same transaction the stream's watermark moves and
the ``public.customer_sales`` rows of the customers it touched are recomputed, so every commit
leaves the three tables consistent with each other, whatever task is retried or cleared later.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

import psycopg

from ploomes_sync.streams import Stream
from ploomes_sync.warehouse.aggregate import refresh_customer_sales
from ploomes_sync.warehouse.connection import advisory_lock, fetchone, fetchrow, require_aware, transaction
from ploomes_sync.warehouse.sqlfiles import load
from ploomes_sync.warehouse.staging import require_staged
from ploomes_sync.warehouse.statements import statement

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class MergeResult:
    """What a merge did with the run's staged rows (duplicates of an id counted once)."""

    inserted: int
    updated: int
    unchanged: int  # the target already held this version, or a newer one
    customers: int = 0  # customer_sales rows recomputed
    lines_removed: int = 0  # lines (of orders, quotes) gone from the records re-read
    lines_written: int = 0  # lines inserted or changed

    @property
    def staged(self) -> int:
        return self.inserted + self.updated + self.unchanged


def merge(conn: psycopg.Connection, stream: Stream, run_id: str, *, move_watermark: bool = True,
          watermark: datetime | None = None) -> MergeResult:
    """Upsert the run's staged rows of ``stream`` into its public table.

    The newest staged version of each id wins; a row already newer in the table is kept; a row
    another run archived as gone after this run's read began is not put back. The watermark moves
    (never back) to ``watermark``, by default to when the read began in Ploomes' clock, unless
    ``move_watermark`` is false. Raises :class:`StageMissing` when the run staged nothing.
    """
    require_aware(watermark, "watermark")
    moved = None
    with transaction(conn):
        advisory_lock(conn, stream.target)
        staged = require_staged(conn, stream, run_id)
        total, inserted, updated, customers = fetchrow(
            conn, statement("merge/upsert.sql", stream),
            {"run_id": run_id, "read_started_wh": staged.read_started_wh, "read_ended_at": staged.read_ended_at})
        lines = None
        if stream.lines is not None:
            removed, written = fetchrow(conn, statement("merge/lines.sql", stream), {"run_id": run_id})
            lines = (int(removed), int(written))
        if stream.after_merge:
            found = fetchone(conn, load("merge/watermark_of.sql"), {"stream": stream.name})
            since = found[0] if found else None
            for name in stream.after_merge:
                done = fetchrow(conn, statement(name, stream), {"run_id": run_id, "since": since})
                log.info("%s after the merge of run %s: %s", name, run_id, tuple(done))
        mark = watermark or staged.read_started_at
        if move_watermark and not staged.complete:
            log.warning("Watermark %s stays: the read of run %s got no record, or fewer than Ploomes counted for it "
                        "(records left out of an answer, or deleted while it read); the next run reads its window "
                        "again", stream.name, run_id)
            move_watermark = False
        if move_watermark and mark is not None:
            moved = fetchone(conn, load("merge/watermark.sql"),
                             {"stream": stream.name, "value": mark, "run_id": run_id})
        refreshed = refresh_customer_sales(conn, customers or [])
    result = MergeResult(int(inserted), int(updated), int(total) - int(inserted) - int(updated), refreshed,
                         *(lines or (0, 0)))
    log.info("public.%s <- run %s: %s inserted, %s updated, %s unchanged; %s customer_sales rows recomputed",
             stream.target, run_id, result.inserted, result.updated, result.unchanged, refreshed)
    if stream.lines is not None:
        log.info("public.%s <- run %s: %s lines written, %s lines removed", stream.lines.target, run_id,
                 result.lines_written, result.lines_removed)
    if move_watermark:
        if moved is None:
            log.info("Watermark %s stays (at or past %s)", stream.name, mark.isoformat() if mark else "nothing")
        else:
            log.info("Watermark %s moved to %s", stream.name, mark.isoformat() if mark else None)
    return result

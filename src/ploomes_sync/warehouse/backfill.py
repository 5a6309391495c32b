"""``ploomes_sync.backfill_claims``: how the runs of one Airflow backfill share one re-sync.

Airflow's backfill of a year creates ~1,460 six-hourly runs. Each used to re-sync its own 6 hours
(key check, extract, listing: ~8 requests a run, hours of the account's budget). Instead, the first
of them to plan finds the consecutive runs Airflow holds queued or running beside its own (the
backfill's), claims their logical dates, and re-syncs their whole range as one date-range run. A
claimed run takes its claim when it plans and ends there, in one task.

A claim is a promise made to a run that already existed when it was made, so a run never counts
on a re-sync that began before it was created (and a claim is taken once). When the claimer failed,
the claimed run re-syncs its own interval; claims nobody took expire after
:data:`ploomes_sync.settings.BACKFILL_CLAIM_HOURS`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import psycopg

from ploomes_sync.settings import BACKFILL_CLAIM_HOURS, BACKFILL_MAX_RUNS
from ploomes_sync.warehouse.connection import advisory_lock, execute, fetchone, require_aware, transaction
from ploomes_sync.warehouse.sqlfiles import load

log = logging.getLogger(__name__)

# How many of the given logical dates have a run Airflow holds queued or running.
ActiveRuns = Callable[[Sequence[datetime]], int]
_FIRST_PROBE = 8
_LARGEST_PROBE = 120  # logical dates in one question to Airflow (they travel in a URL's query)


@dataclass(frozen=True)
class BackfillShare:
    """What one backfill run does: re-sync ``[start, end)`` itself, or nothing (``covered_by``)."""

    start: datetime
    end: datetime
    covered_by: str | None = None  # the run that re-syncs this run's interval


def consecutive_active(first: datetime, step: timedelta, active: ActiveRuns, limit: int) -> int:
    """How many of the logical dates ``first``, ``first + step``, ... (at most ``limit``) in a row
    have an active run: batches that double, then a binary search in the batch that breaks the row."""
    found, size = 0, _FIRST_PROBE
    while found < limit:
        dates = [first + step * (found + i) for i in range(min(size, limit - found))]
        if active(dates) == len(dates):
            found += len(dates)
            size = min(size * 2, _LARGEST_PROBE)
            continue
        low, high = 0, len(dates) - 1  # the first `low` are active; not all of them are
        while low < high:
            middle = (low + high + 1) // 2
            if active(dates[:middle]) == middle:
                low = middle
            else:
                high = middle - 1
        return found + low
    return found


def share(
    conn: psycopg.Connection,
    run_id: str,
    interval: tuple[datetime, datetime],
    active: ActiveRuns,
    *,
    claim_hours: float = BACKFILL_CLAIM_HOURS,
    max_runs: int = BACKFILL_MAX_RUNS,
) -> BackfillShare:
    """This backfill run's share of the backfill's re-sync (one transaction, one backfill at a time)."""
    start, end = interval
    require_aware(start, "interval start")
    step = end - start
    with transaction(conn):
        advisory_lock(conn, "backfill")
        execute(conn, load("backfill/purge.sql"), {"hours": claim_hours})
        row = fetchone(conn, load("backfill/claim_of.sql"), {"interval_start": start})
        promised = (start, end)
        if row is not None and row[0] == run_id:  # this run again (a retry, or cleared): at least the range it claimed
            promised = (row[1], row[2])
        elif row is not None:
            claimed_by, range_start, range_end, status = row
            execute(conn, load("backfill/take.sql"), {"interval_start": start, "run_id": run_id})
            if status != "failed":
                log.info("Backfill run %s: its interval %s .. %s is re-synced by run %s (%s .. %s, %s)",
                         run_id, start, end, claimed_by, range_start, range_end, status or "not started")
                return BackfillShare(range_start, range_end, covered_by=claimed_by)
            log.warning("Backfill run %s: run %s, which claimed its interval, failed; it re-syncs its own",
                        run_id, claimed_by)
            return BackfillShare(start, end)
        before = consecutive_active(start - step, -step, active, max_runs)
        after = consecutive_active(end, step, active, max_runs)
        dates = [start + step * offset for offset in range(-before, after + 1)]
        range_start, range_end = min(dates[0], promised[0]), max(dates[-1] + step, promised[1])
        execute(conn, load("backfill/claim.sql"), {"run_id": run_id, "dates": dates,
                                                   "range_start": range_start, "range_end": range_end})
    if (range_start, range_end) != (start, end):
        log.info("Backfill run %s re-syncs %s .. %s for the runs of its backfill there (%d claimed now)",
                 run_id, range_start, range_end, len(dates) - 1)
    return BackfillShare(range_start, range_end)

"""Reading a stream from Ploomes into its staging: typed rows, rejects set aside, the read's clocks.

The extracts, the listings and the webhook applier all read through :func:`read_into_stage`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import psycopg

from ploomes_sync import warehouse
from ploomes_sync.hooks.ploomes import PloomesHook, ReadClock
from ploomes_sync.streams import Stream

log = logging.getLogger(__name__)

# The Date of an answer has whole seconds, and the page it carries was read just before it was
# sent: a read is taken to have begun this much before its first answer's Date (less the time
# that answer took, see ReadClock.asked_at).
CLOCK_MARGIN = timedelta(seconds=2)


def read_into_stage(
    stream: Stream,
    run_id: str,
    *,
    hook: PloomesHook,
    conn: psycopg.Connection,
    reject_conn: psycopg.Connection,
    filter_: str | None = None,
    after: int | None = None,
    upto: int | None = None,
    fallback_started_at: datetime | None = None,
    clock: ReadClock | None = None,
) -> dict[str, Any]:
    """Read ``stream``'s records matching ``filter_`` (Id in ``(after, upto]``) into its staging.

    Rows go to the stream's staging (a listing is a stream of its own), the lines its records carry
    to their own (``reject_conn``, page by page), rejects to ``ploomes_sync.rejects`` with their
    reason, all committed every few pages. Returns the counts
    and ``read_started_at``: Ploomes' clock when the read began (its first answer's Date less that
    answer's time and a margin; else the latest LastUpdateDate read; else ``fallback_started_at``), and
    ``read_ended_at`` (see :func:`read_ended_at`). Several reads that make one (a listing's ranges)
    share a ``clock``.
    """
    clock = clock or ReadClock()
    counts: dict[str, Any] = {"fetched": 0, "rejected": 0, "rejected_without_id": 0}
    requests_before, throttled_before = hook.stats.requests, hook.stats.throttled
    updated_at = stream.column_names.index("updated_at")
    latest: list[datetime] = []

    lines = stream.lines
    counts["lines"] = 0

    def rows() -> Iterator[tuple]:
        pages = hook.iter_pages(stream.endpoint, filter=filter_, select=list(stream.select),
                                expand=stream.expand_option, after=after, upto=upto, clock=clock,
                                heavy=lines is not None)
        for page in pages:
            rejected = []
            newest = None
            line_rows: list[tuple] = []
            for record in page.records:
                row = stream.row(record) if lines is None else stream.row_and_lines(record)
                if type(row) is tuple:
                    if lines is not None:
                        row, own = row
                        stamp = row[updated_at]
                        line_rows += [(stamp, *line) for line in own]
                    if newest is None or row[updated_at] > newest:
                        newest = row[updated_at]
                    yield row
                else:
                    rejected.append(row)
            if line_rows:  # on the side connection: this one is in the middle of the records' COPY
                counts["lines"] += warehouse.stage_lines(reject_conn, stream, run_id, line_rows)
            counts["fetched"] += len(page.records)
            if newest is not None and (not latest or newest > latest[0]):
                latest[:] = [newest]
            if rejected:
                counts["rejected"] += len(rejected)
                counts["rejected_without_id"] += sum(1 for r in rejected if not (r.record_id or "").isdigit())
                warehouse.stage_rejects(reject_conn, run_id, stream.name, rejected)
                log.warning("%s: %s records of page %s set aside: %s", stream.name, len(rejected), page.number,
                            rejected[0].reason)

    staged = warehouse.stage_rows(conn, stream, run_id, rows())
    counts["staged"] = staged
    counts["api_requests"] = hook.stats.requests - requests_before
    counts["throttled"] = hook.stats.throttled - throttled_before
    counts["read_ended_at"] = read_ended_at(clock)
    if clock.asked_at is not None:
        counts["read_started_at"] = clock.asked_at - CLOCK_MARGIN
    elif latest:
        counts["read_started_at"] = latest[0]
    else:
        counts["read_started_at"] = fallback_started_at
    return counts


def read_ended_at(clock: ReadClock) -> datetime | None:
    """Ploomes' clock when the read's latest answer left, rounded up: no record read was changed later,
    so a LastUpdateDate after it is a date ahead of Ploomes' clock. None without Date headers."""
    return None if clock.answered_at is None else clock.answered_at + CLOCK_MARGIN

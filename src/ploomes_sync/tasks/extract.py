"""The extracts: a stream's records, read from Ploomes, staged as typed rows (or set aside as rejects)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import psycopg

from ploomes_sync import warehouse
from ploomes_sync.config import SyncConfig
from ploomes_sync.hooks.ploomes import PloomesHook
from ploomes_sync.plan import RunPlan, stream_filter
from ploomes_sync.streams import Stream
from ploomes_sync.tasks.errors import TooManyRejects

log = logging.getLogger(__name__)

# The Date of an answer has whole seconds, and the page it carries was read just before it was
# sent: a read is taken to have begun this much before its first answer's Date (less the time
# that answer took, see RequestStats.first_answer_date).
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
) -> dict[str, Any]:
    """Read ``stream``'s records matching ``filter_`` (Id in ``(after, upto]``) into its staging.

    Rows go to the stream's staging (a listing is a stream of its own), rejects to
    ``ploomes_sync.rejects`` with their reason, both committed every few pages. Returns the counts
    and ``read_started_at``: Ploomes' clock when the read began (its first answer's Date less that
    answer's time and a margin; else the latest LastUpdateDate read; else ``fallback_started_at``), and
    ``read_ended_at`` (see :func:`read_ended_at`).
    """
    counts: dict[str, Any] = {"fetched": 0, "rejected": 0, "rejected_without_id": 0}
    requests_before, throttled_before = hook.stats.requests, hook.stats.throttled
    updated_at = stream.column_names.index("updated_at")
    latest: list[datetime] = []

    def rows() -> Iterator[tuple]:
        pages = hook.iter_pages(stream.endpoint, filter=filter_, select=list(stream.select), expand=stream.expand,
                                after=after, upto=upto)
        for page in pages:
            rejected = []
            newest = None
            for record in page.records:
                row = stream.row(record)
                if type(row) is tuple:
                    if newest is None or row[updated_at] > newest:
                        newest = row[updated_at]
                    yield row
                else:
                    rejected.append(row)
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
    counts["read_ended_at"] = read_ended_at(hook)
    answered = hook.stats.first_answer_date
    if answered is not None:
        counts["read_started_at"] = answered - CLOCK_MARGIN
    elif latest:
        counts["read_started_at"] = latest[0]
    else:
        counts["read_started_at"] = fallback_started_at
    return counts


def read_ended_at(hook: PloomesHook) -> datetime | None:
    """Ploomes' clock when the hook's latest answer left, rounded up: no record read so far was changed
    later, so a LastUpdateDate after it is a date ahead of Ploomes' clock. None without Date headers."""
    answered = hook.stats.last_answer_date
    return None if answered is None else answered + CLOCK_MARGIN


def check_rejects(stream_name: str, counts: dict[str, Any], run_id: str, config: SyncConfig) -> None:
    """Fail with :class:`TooManyRejects` when a read set aside more records than allowed."""
    if config.too_many_rejects(counts["rejected"], counts["fetched"]):
        # The message shows the user a query to run; it is never executed (hence the noqa).
        raise TooManyRejects(
            f"{counts['rejected']} of {counts['fetched']} {stream_name} records were rejected, above the "  # noqa: S608
            f"threshold (more than {config.reject_allowance} and {config.max_reject_ratio:.1%}). Nothing was "
            f"loaded or deleted and the watermark did not move. See: SELECT record_id, reason FROM "
            f"ploomes_sync.rejects WHERE run_id = '{run_id}' AND stream = '{stream_name}'; fix the records "
            "in Ploomes, or raise max_reject_ratio / reject_allowance in the ploomes_sync_config Variable."
        )


def extract(stream: Stream, plan: RunPlan, *, hook: PloomesHook, conn: psycopg.Connection,
            reject_conn: psycopg.Connection, config: SyncConfig) -> dict[str, Any]:
    """Stage ``stream``'s records of the run's window; register the staging; check the rejects.

    When the extract is the stream's listing (full and date-range runs), it is recorded as such.
    """
    own = plan.stream(stream.name)
    warehouse.clear_stage(conn, stream, plan.run_id)
    started_wh = warehouse.warehouse_now(conn)
    listing = own.listing == "extract"
    counts = read_into_stage(stream, plan.run_id, hook=hook, conn=conn, reject_conn=reject_conn,
                             filter_=stream_filter(plan, stream), fallback_started_at=own.since)
    warehouse.register_stage(conn, stream.name, plan.run_id, counts["staged"],
                             read_started_at=counts["read_started_at"], read_started_wh=started_wh,
                             read_ended_at=counts["read_ended_at"])
    warehouse.add_api_usage(conn, plan.run_id, counts["api_requests"], counts["throttled"])
    warehouse.record_stream(conn, plan.run_id, stream.name, fetched=counts["fetched"], rejected=counts["rejected"])
    if listing:
        created = (plan.created_from, plan.created_to) if own.created_range else (None, None)
        warehouse.record_listing_ranges(conn, warehouse.Listing(
            run_id=plan.run_id, stream=stream.name, source="extract", method="extract", started_wh=started_wh,
            read_started_at=counts["read_started_at"], created_from=created[0], created_to=created[1],
            requests=counts["api_requests"], listed=counts["staged"], rejected=counts["rejected"],
            rejected_without_id=counts["rejected_without_id"], read_ended_at=counts["read_ended_at"],
        ), [warehouse.IdRange(None, None, listed=True)])
    log.info("%s: fetched %s, staged %s, rejected %s; %s API requests (%s answered 429); read began at %s "
             "(Ploomes' clock)%s", stream.name, counts["fetched"], counts["staged"], counts["rejected"],
             counts["api_requests"], counts["throttled"], counts["read_started_at"],
             "; it is this run's listing" if listing else "")
    check_rejects(stream.name, counts, plan.run_id, config)
    return {key: value for key, value in counts.items() if key not in ("read_started_at", "read_ended_at")}

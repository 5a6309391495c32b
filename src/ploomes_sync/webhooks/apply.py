"""The applier: pending webhook events -> the warehouse, by re-reading their records from Ploomes.

A batch takes the oldest pending events, reads each touched deal and contact *by Id* from the
API (``Id eq 1 or Id eq 2 ...``, a few dozen a request: the payload's values and dates are never
trusted), stages and merges them with the scheduled sync's statements (an older version never
overwrites a newer row; a row another run archived after this read began is not put back). A
record that read did not find leaves the warehouse only when a deletion delivery named it and a
second read by Id does not find it either (one answer is never trusted to delete), judged by a
listing of exactly those Ids, under the same mass-deletion guard; any other is kept for the next
listing to decide. The merge and the reconcile recompute the
``customer_sales`` rows of the customers they touched. Last, the batch's events are marked applied,
each with its record's outcome.

Duplicates and reordering change nothing: a record is read once per batch, in its current state.
Watermarks do not move (only some records were read). Each batch stages under an id of its own
(the run's id, then ``<run>.2``, ``<run>.3`` ...) and the run's row in ``ploomes_sync.run_history``
(``run_type`` ``webhook``) adds up its batches.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import psycopg

from ploomes_sync import warehouse
from ploomes_sync.config import SyncConfig
from ploomes_sync.errors import MassDeletionRefused, StreamForbidden
from ploomes_sync.guards import deletion_guard
from ploomes_sync.hooks.ploomes import PloomesHook
from ploomes_sync.reads import account_context, read_ids
from ploomes_sync.secrets import redact
from ploomes_sync.streams import Stream, registry
from ploomes_sync.warehouse import inbox
from ploomes_sync.warehouse.inbox import Event
from ploomes_sync.warehouse.listing import confirm_id

log = logging.getLogger(__name__)

# Outcomes recorded per event. A record Ploomes did not show is removed only when a deletion
# delivery named it and a second read did not find it either; otherwise it is kept ("not in
# Ploomes"), and the next listing, with a read by Id of its own, decides.
CURRENT, REJECTED, DELETED, ABSENT, HELD = ("current", "rejected", "deleted", "not in Ploomes", "deletion refused")
# A stream the configuration leaves out is not read; one whose endpoint is refused fails the apply
# (naming it) and its events are left to the scheduled run once the permission is given.
NOT_SYNCED, FORBIDDEN = "stream not synced", "endpoint refused"


@dataclass
class Applied:
    """What one call of :func:`apply_pending` did."""

    run_id: str
    events: int = 0
    batches: int = 0
    pending: int = 0  # events still pending when it returned (more arrived, or it stopped at max_batches)
    streams: dict[str, Counter] = field(default_factory=dict)
    outcomes: Counter = field(default_factory=Counter)
    api_requests: int = 0
    refused: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "events": self.events, "batches": self.batches, "pending": self.pending,
                "streams": {name: dict(counts) for name, counts in self.streams.items()},
                "outcomes": dict(self.outcomes), "api_requests": self.api_requests, "refused": self.refused}


def _apply_stream(stream: Stream, ids: list[int], deleted: set[int], batch_id: str, *, hook: PloomesHook,
                  conn: psycopg.Connection, reject_conn: psycopg.Connection, config: SyncConfig
                  ) -> tuple[dict[int, str], Counter, MassDeletionRefused | None]:
    """Re-read ``ids`` of ``stream`` and merge them; remove those a deletion delivery named (``deleted``)
    that neither that read nor a second one finds. Each id's outcome, and the counts."""
    started_wh = warehouse.warehouse_now(conn)
    context = account_context(conn, hook, config.client_tag_id)
    read = read_ids(stream, ids, batch_id, hook=hook, conn=conn, reject_conn=reject_conn, started_wh=started_wh,
                    context=context)
    counts: Counter = Counter(read.counts)
    merged = warehouse.merge(conn, stream, batch_id, move_watermark=False)
    counts.update(inserted=merged.inserted, updated=merged.updated, unchanged=merged.unchanged)

    named = sorted(read.absent & deleted)  # a deletion delivery, and a read that did not find it
    confirmed: set[int] = set()
    present = set(read.present)
    if named:  # a second, independent request: only what it does not find either leaves
        again = read_ids(stream, named, confirm_id(batch_id), hook=hook, conn=conn, reject_conn=reject_conn,
                         started_wh=started_wh, context=context)
        counts.update(api_requests=again.counts["api_requests"], throttled=again.counts["throttled"])
        confirmed = set(again.absent)
        present |= again.present
        if again.present:
            warehouse.merge(conn, stream, confirm_id(batch_id), move_watermark=False)
    refusal = None
    gone: set[int] = set()
    if confirmed:
        listing = warehouse.Listing(
            run_id=batch_id, stream=stream.name, source="extract", method="ids", started_wh=started_wh,
            read_started_at=read.read_started_at, requests=counts["api_requests"], listed=counts["staged"],
            rejected=counts["rejected"], rejected_without_id=counts["rejected_without_id"],
            read_ended_at=read.read_ended_at)
        warehouse.record_listing_ranges(conn, listing, [warehouse.IdRange(i - 1, i, listed=True) for i in confirmed])
        try:
            result = warehouse.archive(conn, stream, listing, confirmed, deletion_guard(stream, config))
            counts["deleted"] += result.archived
            gone = set(result.gone_ids) if result.refused is None else set()
        except MassDeletionRefused as exc:
            refusal = exc
            log.error("%s", exc)

    outcomes = {}
    for record_id in ids:
        if record_id in present:
            outcomes[record_id] = CURRENT
        elif record_id in read.rejected:
            outcomes[record_id] = REJECTED
        elif record_id in gone:
            outcomes[record_id] = DELETED
        elif refusal is not None and record_id in confirmed:
            outcomes[record_id] = HELD
        else:
            outcomes[record_id] = ABSENT
    return outcomes, counts, refusal


def apply_batch(events: Sequence[Event], batch_id: str, *, hook: PloomesHook, conn: psycopg.Connection,
                reject_conn: psycopg.Connection, config: SyncConfig
                ) -> tuple[dict[tuple[str, int], str], dict[str, Counter], list[MassDeletionRefused | StreamForbidden]]:
    """Apply ``events`` (staging under ``batch_id``) without marking them; outcomes, counts, refusals."""
    touched: dict[str, set[int]] = {}
    deleted: dict[str, set[int]] = {}
    for event in events:
        touched.setdefault(event.stream, set()).add(event.record_id)
        if event.deletion:
            deleted.setdefault(event.stream, set()).add(event.record_id)
    outcomes: dict[tuple[str, int], str] = {}
    counts: dict[str, Counter] = {}
    refusals: list[MassDeletionRefused | StreamForbidden] = []
    for stream in registry(config.quote_entity_id):  # in its order: a deal's customer lands first
        name = stream.name
        if name not in touched:
            continue
        if not config.syncs(name):
            outcomes.update({(name, record_id): NOT_SYNCED for record_id in touched[name]})
            continue
        try:
            by_id, counts[name], refusal = _apply_stream(stream, sorted(touched[name]), deleted.get(name, set()),
                                                         batch_id, hook=hook, conn=conn, reject_conn=reject_conn,
                                                         config=config)
        except StreamForbidden as exc:
            log.error("%s", exc)
            by_id, refusal = dict.fromkeys(touched[name], FORBIDDEN), exc
        finally:
            for stage_id in (batch_id, confirm_id(batch_id)):
                warehouse.drop_stage(conn, stage_id, [stream])
        outcomes.update({(name, record_id): outcome for record_id, outcome in by_id.items()})
        if refusal is not None:
            refusals.append(refusal)
    return outcomes, counts, refusals


def apply_pending(*, hook: PloomesHook, conn: psycopg.Connection, reject_conn: psycopg.Connection,
                  config: SyncConfig, run_id: str, dag_id: str, max_batches: int = 20) -> Applied:
    """Apply the inbox's pending events, a batch of ``webhook_batch_size`` at a time, until none is
    pending or ``max_batches`` were applied (the trigger wakes the applier again for the rest).

    Raises :class:`MassDeletionRefused` at the end when the guard held back a deletion, or
    :class:`StreamForbidden` when a stream's endpoint was refused: the other
    records were applied, the held events are marked so, and the scheduled run's listing (with its
    own guard and confirmation) decides.
    """
    applied = Applied(run_id)
    events = inbox.pending(conn, config.webhook_batch_size)
    if not events:
        log.info("No webhook event pending")
        return applied
    warehouse.start_run(conn, run_id, dag_id=dag_id, run_type="webhook", mode="events", window_start=None,
                        window_end=None, watermarks_before=None)
    refusals: list[MassDeletionRefused | StreamForbidden] = []
    try:
        while events and applied.batches < max_batches:
            batch_id = run_id if applied.batches == 0 else f"{run_id}.{applied.batches + 1}"
            outcomes, counts, held = apply_batch(events, batch_id, hook=hook, conn=conn, reject_conn=reject_conn,
                                                 config=config)
            inbox.mark_applied(conn, events, run_id, outcomes)
            _add_up(applied, events, outcomes, counts)
            refusals += held
            requests = sum(c["api_requests"] for c in counts.values())
            warehouse.add_api_usage(conn, run_id, requests, sum(c["throttled"] for c in counts.values()))
            for name, total in applied.streams.items():
                warehouse.record_stream(conn, run_id, name, **{key: total[key] for key in RECORDED})
            log.info("Webhook batch %s: %s events, %s records: %s; %s API requests", batch_id, len(events),
                     len(outcomes), dict(Counter(outcomes.values())), requests)
            events = inbox.pending(conn, config.webhook_batch_size)
        applied.pending = len(events)
    except BaseException as exc:
        warehouse.finish_run(conn, run_id, status="failed", error=redact(f"{type(exc).__name__}: {exc}")[:4000])
        raise
    purged = inbox.purge(conn, timedelta(days=config.inbox_keep_days))
    if purged:
        log.info("Purged %s applied events older than %s days from the inbox", purged, config.inbox_keep_days)
    applied.refused = [str(refusal) for refusal in refusals]
    if refusals:
        warehouse.finish_run(conn, run_id, status="failed", error=redact("\n".join(applied.refused))[:4000])
        raise refusals[0]
    warehouse.finish_run(conn, run_id, status="success")
    return applied


def apply_until_quiet(*, hook: PloomesHook, conn: psycopg.Connection, reject_conn: psycopg.Connection,
                      config: SyncConfig, run_id: str, dag_id: str, poll_seconds: float = 0.5,
                      clock: Callable[[], float] = time.monotonic,
                      sleep: Callable[[float], None] = time.sleep) -> list[Applied]:
    """:func:`apply_pending`, then the inbox watched for ``webhook_linger_seconds`` after the last
    event applied (a cheap query every ``poll_seconds``), each new event applied as it comes.

    An event that arrives while an apply runs is applied by the same task, a fraction of a second
    later, rather than waiting for the watcher to start another run. The task holds its pool slot
    for the linger after the last event, and no longer (0: apply what is pending and return).
    """
    applies = [apply_pending(hook=hook, conn=conn, reject_conn=reject_conn, config=config, run_id=run_id,
                             dag_id=dag_id)]
    quiet_since = clock()
    while clock() - quiet_since < config.webhook_linger_seconds:
        if inbox.high_water(conn) is None:
            sleep(poll_seconds)
            continue
        applied = apply_pending(hook=hook, conn=conn, reject_conn=reject_conn, config=config,
                                run_id=f"{run_id}+{len(applies) + 1}", dag_id=dag_id)  # its own history row
        applies.append(applied)
        quiet_since = clock()
    return applies


RECORDED = ("events", "fetched", "inserted", "updated", "unchanged", "deleted", "rejected")


def _add_up(applied: Applied, events: Sequence[Event], outcomes: dict[tuple[str, int], str],
            counts: dict[str, Counter]) -> None:
    applied.batches += 1
    applied.events += len(events)
    applied.outcomes.update(outcomes.values())
    for name, stream_counts in counts.items():
        applied.streams.setdefault(name, Counter()).update(stream_counts)
        applied.api_requests += stream_counts["api_requests"]
    for event in events:
        applied.streams.setdefault(event.stream, Counter())["events"] += 1

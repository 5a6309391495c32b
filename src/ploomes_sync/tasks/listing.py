"""The deletion listing: which records of each stream Ploomes still has, read as cheaply as it can be.

A full listing reads every record lightly (Id, LastUpdateDate and what the check compares). Where
Ploomes answers ``$count``, a count listing finds the deletions without re-reading everything:

1. count Ploomes' records and the warehouse's rows with an Id up to the highest the warehouse
   holds: every such record was loaded by this or an earlier run (records created since have
   higher Ids), so equal counts mean no row of the range is gone from Ploomes. No date decides
   what is counted: a ``LastUpdateDate`` ahead of Ploomes' own clock (a glitch, an import that
   set the dates) hides no record, and a record changed since the read is on both sides;
2. where they differ, cut the range at the warehouse's middle id, count the lower half in Ploomes
   (the upper half's count is the difference) and go on in the halves that differ;
3. list the ranges that differ and hold one page of rows or less: the reconcile judges those;
4. list each record the extract set aside in a range counted equal (one request each), so the
   check reports it as rejected, never silently as equal.

Both are paced to ``listing_budget_share`` of ``requests_per_minute``, so the company's other
integrations keep the rest of the account's budget while a listing runs. A listing never deletes
anything itself: it stages what it read and records the ranges it covers (see
``ploomes_sync.warehouse.listing``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import psycopg
from airflow.sdk.exceptions import AirflowSkipException

from ploomes_sync import warehouse
from ploomes_sync.api.paging import id_range_filter
from ploomes_sync.config import SyncConfig
from ploomes_sync.guards import check_rejects
from ploomes_sync.hooks.ploomes import PloomesHook, ReadClock
from ploomes_sync.plan import RunPlan
from ploomes_sync.reads import read_ended_at, read_into_stage
from ploomes_sync.streams import Registry, Stream, registry
from ploomes_sync.warehouse import IdRange

log = logging.getLogger(__name__)

LISTED_BY_THE_TASK = ("full", "count")  # the other methods: "extract" (the extract lists), "none"


@dataclass
class CountSearch:
    """Step 2 above for one stream: which Id ranges are counted equal and which to list."""

    stream: Stream
    hook: PloomesHook
    conn: psycopg.Connection
    leaf_rows: int  # list a differing range once it holds at most this many warehouse rows
    clock: ReadClock  # the listing's
    counted: list[IdRange] = field(default_factory=list)
    to_list: list[IdRange] = field(default_factory=list)
    requests: int = 0

    def ploomes_count(self, after: int | None, upto: int) -> int | None:
        self.requests += 1
        return self.hook.count(self.stream.endpoint, id_range_filter(None, after, upto), clock=self.clock)

    def search(self, after: int | None, upto: int | None, ploomes: int, stored: int) -> None:
        if ploomes == stored:
            self.counted.append(IdRange(after, upto, listed=False, ploomes_count=ploomes, warehouse_count=stored))
            return
        middle = warehouse.median_id(self.conn, self.stream, after, upto)
        small = stored <= self.leaf_rows
        if small or middle is None or middle == upto or (after is not None and middle <= after):
            self.to_list.append(IdRange(after, upto, listed=True, ploomes_count=ploomes, warehouse_count=stored))
            return
        lower = self.ploomes_count(after, middle)
        if lower is None:  # the API stopped answering $count: list the range instead
            self.to_list.append(IdRange(after, upto, listed=True, ploomes_count=ploomes, warehouse_count=stored))
            return
        lower_stored = warehouse.warehouse_count(self.conn, self.stream, after, middle)
        self.search(after, middle, lower, lower_stored)
        self.search(middle, upto, ploomes - lower, stored - lower_stored)


def rejects_in(counted: list[IdRange], conn: psycopg.Connection, stream: Stream, run_id: str) -> list[IdRange]:
    """One-record ranges to list: the records the run's extract set aside that lie in ``counted``."""
    ids = sorted(int(i) for i in warehouse.rejected_ids(conn, stream.name, run_id) if i.isascii() and i.isdigit())
    return [IdRange(i - 1, i, listed=True) for i in ids
            if any((r.id_after is None or i > r.id_after) and (r.id_upto is None or i <= r.id_upto) for r in counted)]


def list_stream(stream: Stream, plan: RunPlan, method: str, *, hook: PloomesHook, conn: psycopg.Connection,
                reject_conn: psycopg.Connection, config: SyncConfig) -> dict[str, Any]:
    """List ``stream`` for this run (``method``: ``"full"`` or ``"count"``); what it did."""
    listing_stream = stream.listing()
    warehouse.clear_stage(conn, listing_stream, plan.run_id)
    warehouse.clear_listing(conn, plan.run_id, stream.name)
    started_wh = warehouse.warehouse_now(conn)
    requests_before = hook.stats.requests
    read_began = warehouse.staged(conn, stream, plan.run_id).read_started_at
    ranges: list[IdRange] = []
    counted_requests = 0
    highest = warehouse.max_id(conn, stream)
    clock = ReadClock()  # Ploomes' clock over the listing's counts and reads
    if method == "count" and highest is not None:
        search = CountSearch(stream, hook, conn, leaf_rows=hook.page_size, clock=clock)
        total = search.ploomes_count(None, highest)
        if total is None:
            log.info("%s: Ploomes does not answer $count: listing every record instead", stream.name)
            method = "full"
        else:
            search.search(None, highest, total, warehouse.warehouse_count(conn, stream, None, highest))
            counted_requests = search.requests
            ranges = search.counted + search.to_list + rejects_in(search.counted, conn, stream, plan.run_id)
    elif method == "count":
        log.info("%s: the warehouse holds no row, so none can be gone: nothing to count", stream.name)

    totals = {"fetched": 0, "staged": 0, "rejected": 0, "rejected_without_id": 0}
    if method == "full":
        ranges = [IdRange(None, None, listed=True)]
    to_read = [r for r in ranges if r.listed]
    for id_range in to_read:
        counts = read_into_stage(listing_stream, plan.run_id, hook=hook, conn=conn, reject_conn=reject_conn,
                                 after=id_range.id_after, upto=id_range.id_upto, clock=clock)
        for key in totals:
            totals[key] += counts[key]
    ended = read_ended_at(clock)
    warehouse.register_stage(conn, listing_stream.name, plan.run_id, totals["staged"], read_started_at=read_began,
                             read_started_wh=started_wh, read_ended_at=ended)
    requests = hook.stats.requests - requests_before
    listing = warehouse.Listing(
        run_id=plan.run_id, stream=stream.name, source="listing", method=method, started_wh=started_wh,
        read_started_at=read_began, created_from=None, created_to=None, requests=requests,
        listed=totals["staged"], rejected=totals["rejected"], rejected_without_id=totals["rejected_without_id"],
        read_ended_at=ended)
    warehouse.record_listing_ranges(conn, listing, ranges)
    info = {"method": method, "requests": requests, "count_requests": counted_requests,
            "ranges_counted": sum(1 for r in ranges if not r.listed), "ranges_listed": len(to_read),
            "listed": totals["staged"], "rejected": totals["rejected"]}
    warehouse.record_listing(conn, plan.run_id, stream.name, info)
    warehouse.add_api_usage(conn, plan.run_id, requests, 0)
    warehouse.record_stream(conn, plan.run_id, listing_stream.name, fetched=totals["fetched"],
                            rejected=totals["rejected"])
    log.info("%s listing (%s): %s requests (%s of them counts); %s Id ranges counted equal, %s listed: %s records",
             stream.name, method, requests, counted_requests, info["ranges_counted"], len(to_read), totals["staged"])
    check_rejects(listing_stream.name, totals, plan.run_id, config)
    return info


def list_deletions(plan: RunPlan, *, hook: PloomesHook, conn: psycopg.Connection, reject_conn: psycopg.Connection,
                   config: SyncConfig, streams: Registry | None = None) -> dict[str, Any]:
    """List every stream of the registry whose listing this run makes itself (not its extract); what
    each did. The hook's requests are paced to ``listing_budget_share`` of its budget. Skipped
    (``AirflowSkipException``) when the run lists nothing itself.
    """
    if not needs_listing(plan):
        raise AirflowSkipException("No listing of its own this run: not due (listing_every_hours), or the "
                                   "extracts read every record and are the listings.")
    paced = hook.paced(config.listing_budget_share)  # the same counters, a share of the same budget
    done = {}
    for stream in streams or registry(config.client_tag_id, config.quote_entity_id):
        method = plan.listing(stream.name)
        if method in LISTED_BY_THE_TASK:
            done[stream.name] = list_stream(stream, plan, method, hook=paced, conn=conn, reject_conn=reject_conn,
                                            config=config)
    return done


def needs_listing(plan: RunPlan) -> bool:
    """Whether this run lists a stream itself (else the task has nothing to do)."""
    return any(own.listing in LISTED_BY_THE_TASK for own in plan.streams.values())

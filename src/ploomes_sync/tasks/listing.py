"""The deletion listing: which records of each stream Ploomes still has, read as cheaply as it can be.

A full listing reads every record lightly (Id, LastUpdateDate and what the check compares). Where
Ploomes answers ``$count``, a count listing finds the deletions without re-reading everything:

1. count Ploomes' records and the warehouse's rows with an Id up to the highest the warehouse
   holds: every such record was loaded by this or an earlier run (records created since have
   higher Ids), so equal counts mean no row of the range is gone from Ploomes. No date decides
   what is counted: a ``LastUpdateDate`` ahead of Ploomes' own clock (a glitch, an import that
   set the dates) hides no record, and a record changed since the read is on both sides;
2. where they differ, cut the range in two and count the lower part in Ploomes (the upper part's
   count is the difference), going on in the parts that differ. Every count is a *probe*: one
   request for the first page of its range, light, with ``$count=true``. The page is listed (staged
   for the reconcile and the check), so a probe whose range holds a page or less lists it whole, and
   a larger one leaves the rest of its range with a count known. A range is cut at its middle row
   (less the page its probe lists), or after its first page once it holds two pages or less;
3. list each record the extract set aside in a range counted equal (one request each), so the
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
from ploomes_sync.api.paging import KeysetPaginator, query_options
from ploomes_sync.api.reader import odata_count
from ploomes_sync.config import SyncConfig
from ploomes_sync.guards import check_rejects
from ploomes_sync.hooks.ploomes import PloomesHook, ReadClock
from ploomes_sync.plan import RunPlan
from ploomes_sync.reads import read_ended_at, read_into_stage, stage_pages
from ploomes_sync.streams import Registry, Stream, registry
from ploomes_sync.warehouse import IdRange

log = logging.getLogger(__name__)

LISTED_BY_THE_TASK = ("full", "count")  # the other methods: "extract" (the extract lists), "none"
READ_TOTALS = ("fetched", "staged", "rejected", "rejected_without_id")


@dataclass
class CountSearch:
    """Steps 1 and 2 above for one stream: which Id ranges are counted equal, and which are listed
    (staged in the stream's listing staging as they are read)."""

    stream: Stream
    hook: PloomesHook
    conn: psycopg.Connection
    reject_conn: psycopg.Connection
    run_id: str
    clock: ReadClock  # the listing's
    ranges: list[IdRange] = field(default_factory=list)
    totals: dict[str, int] = field(default_factory=lambda: dict.fromkeys(READ_TOTALS, 0))
    probes: int = 0

    @property
    def page_size(self) -> int:
        return self.hook.options.page_size

    def run(self, highest: int) -> bool:
        """Search ``(None, highest]``; False (nothing recorded) when Ploomes does not answer ``$count``."""
        stored = warehouse.warehouse_count(self.conn, self.stream, None, highest)
        return self.probe(None, highest, stored, None) is not None

    def probe(self, after: int | None, upto: int, stored: int, known: int | None) -> int | None:
        """One request: the first page of ``(after, upto]`` and how many records Ploomes holds there;
        the page is listed, and what it leaves of the range is searched. Ploomes' count (None when
        not answered; ``known``, when given, decides what to do then)."""
        listing = self.stream.listing()
        paginator = KeysetPaginator(self.page_size, after=after, upto=upto)
        params = query_options(listing.select, None)
        paginator.init_request(params)  # $orderby=Id, $top, the range's filter, $count=true
        self.probes += 1
        payload = self.hook.fetch(listing.endpoint, params, clock=self.clock)
        records, count = payload["value"], odata_count(payload)
        paginator.update_state(records, count=count)  # checks the page's Ids: ascending, inside the range
        if count is None and known is None:
            return None
        self._stage(records)
        if not paginator.has_next_page:  # the page holds the whole range
            self.ranges.append(IdRange(after, upto, listed=True, ploomes_count=len(records), warehouse_count=stored))
            return len(records)
        last = paginator.last_key
        self.ranges.append(IdRange(after, last, listed=True))
        if count is None:  # the API stopped answering $count: list the rest of the range instead
            self.list_range(last, upto)
            return known
        self.search(last, upto, count - len(records), warehouse.warehouse_count(self.conn, self.stream, last, upto))
        return count

    def search(self, after: int | None, upto: int, ploomes: int, stored: int) -> None:
        """Find where ``(after, upto]`` lost records: Ploomes holds ``ploomes`` there, the warehouse ``stored``."""
        if ploomes == stored:
            self.ranges.append(IdRange(after, upto, listed=False, ploomes_count=ploomes, warehouse_count=stored))
            return
        if stored <= self.page_size:
            self.probe(after, upto, stored, ploomes)
            return
        position = self.page_size if stored <= 2 * self.page_size else (stored + self.page_size) // 2
        cut = warehouse.id_at(self.conn, self.stream, after, upto, position)
        lower = None if cut is None or cut >= upto else self.probe(after, cut, position, None)
        if cut is None or cut >= upto or lower is None:  # rows changed meanwhile, or no $count: list it all
            self.list_range(after, upto)
            return
        self.search(cut, upto, ploomes - lower, stored - position)

    def _stage(self, records: list[dict[str, Any]]) -> None:
        counts = stage_pages(self.stream.listing(), self.run_id, [records], conn=self.conn,
                             reject_conn=self.reject_conn)
        for key in READ_TOTALS:
            self.totals[key] += counts[key]

    def list_range(self, after: int | None, upto: int | None) -> None:
        """Read every record of ``(after, upto]`` into the listing staging (a listed range)."""
        counts = read_into_stage(self.stream.listing(), self.run_id, hook=self.hook, conn=self.conn,
                                 reject_conn=self.reject_conn, after=after, upto=upto, clock=self.clock)
        for key in READ_TOTALS:
            self.totals[key] += counts[key]
        self.ranges.append(IdRange(after, upto, listed=True))


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
    clock = ReadClock()  # Ploomes' clock over the listing's counts and reads
    search = CountSearch(stream, hook, conn, reject_conn, plan.run_id, clock)
    highest = warehouse.max_id(conn, stream)
    if method == "count" and highest is None:
        log.info("%s: the warehouse holds no row, so none can be gone: nothing to count", stream.name)
    elif method == "count" and not search.run(highest):
        log.info("%s: Ploomes does not answer $count: listing every record instead", stream.name)
        method = "full"
    elif method == "count":
        counted = [r for r in search.ranges if not r.listed]
        for id_range in rejects_in(counted, conn, stream, plan.run_id):
            search.list_range(id_range.id_after, id_range.id_upto)
    if method == "full":
        search.list_range(None, None)
    ranges, totals = search.ranges, search.totals
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
    listed = [r for r in ranges if r.listed]
    info = {"method": method, "requests": requests, "count_requests": search.probes if method == "count" else 0,
            "ranges_counted": len(ranges) - len(listed), "ranges_listed": len(listed), "listed": totals["staged"],
            "rejected": totals["rejected"]}
    warehouse.record_listing(conn, plan.run_id, stream.name, info)
    warehouse.add_api_usage(conn, plan.run_id, requests, 0)
    warehouse.record_stream(conn, plan.run_id, listing_stream.name, fetched=totals["fetched"],
                            rejected=totals["rejected"])
    log.info("%s listing (%s): %s requests (%s of them counted probes); %s Id ranges counted equal, %s listed: "
             "%s records", stream.name, method, requests, info["count_requests"], info["ranges_counted"],
             len(listed), totals["staged"])
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

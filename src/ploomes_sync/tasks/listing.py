"""The deletion listing: which records of each stream Ploomes still has, read as cheaply as it can be.

A full listing reads every record lightly (Id, LastUpdateDate and what the check compares). Where
Ploomes answers ``$count``, a count listing finds the deletions without re-reading everything:

1. count Ploomes' records and the warehouse's rows with an Id up to the highest the warehouse
   holds: every such record was loaded by this or an earlier run (records created since have
   higher Ids), so equal counts mean no row of the range is gone from Ploomes. No date decides
   what is counted: a ``LastUpdateDate`` ahead of Ploomes' own clock (a glitch, an import that
   set the dates) hides no record, and a record changed since the read is on both sides;
2. where they differ, find where. Every count is a *probe*: one request for a page of its range
   (light, ``$orderby=Id``) with ``$count=true``, and the page is listed (staged for the reconcile
   and the check). Its page sits at a position (``$skip``): Ploomes holds exactly that many records
   before the page's first Id, so the warehouse's rows there less that position are the ones gone
   before it. One probe so cuts a range three ways: before its page (by position), after it up to
   the count's end, and past the count's end (by difference with what the range was known to
   lack); a probe counts up to seven tenths of a range's rows with its page at three tenths. A
   range of a page or less is listed by one probe; one of two pages, by a probe of its first page.
   An offset only tells where to look: a page that is not where the warehouse's rows put it (an
   API that ignores ``$skip``, or records the extract set aside) turns offsets off for the stream,
   and one refused turns them off too; what is deleted is only ever what a listed range lacks;
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
from ploomes_sync.api.errors import PloomesBadRequestError, PloomesPagingError
from ploomes_sync.api.paging import KeysetPaginator, query_options
from ploomes_sync.api.reader import odata_count
from ploomes_sync.config import SyncConfig
from ploomes_sync.errors import stream_endpoint
from ploomes_sync.guards import check_rejects
from ploomes_sync.hooks.ploomes import PloomesHook, ReadClock
from ploomes_sync.plan import RunPlan
from ploomes_sync.reads import account_context, read_ended_at, read_into_stage, stage_pages
from ploomes_sync.streams import DEFAULT_CONTEXT, ReadContext, Registry, Stream, registry
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
    by_position: bool = True  # False once Ploomes answered an offset where it could not be
    context: ReadContext = DEFAULT_CONTEXT  # what its records are read with
    listing: Stream = field(init=False)  # what its pages are read as, and staged into

    def __post_init__(self) -> None:
        self.listing = self.stream.listing()

    @property
    def page_size(self) -> int:
        return self.hook.options.page_size

    def run(self, highest: int) -> bool:
        """Search ``(None, highest]``; False (nothing recorded) when Ploomes does not answer ``$count``."""
        return self.search(None, highest, self._stored(None, highest), None)

    def search(self, after: int | None, upto: int, stored: int, missing: int | None) -> bool:
        """Find the records of ``(after, upto]`` (``stored`` rows in the warehouse) gone from Ploomes:
        ``missing`` of them (the warehouse's rows less Ploomes' records; None: not known yet). False
        when Ploomes did not answer the count this needed (then nothing is recorded)."""
        if after == upto:
            return True
        if missing == 0:
            self.ranges.append(IdRange(after, upto, listed=False, ploomes_count=stored, warehouse_count=stored))
            return True
        size = self.page_size
        if missing is not None and stored <= size:  # a page holds it: list it
            self.list_range(after, upto)
            return True
        # where to count up to (`rows` warehouse rows), and the position of the page listed there
        if missing is None:  # the whole: its count, and its middle page
            rows, skip = stored, stored // 2 if stored > 2 * size and self.by_position else 0
        elif stored <= 2 * size:  # its first page, listed whole
            rows, skip = size, 0
        elif self.by_position:  # two cuts: the page at a third (the count says how many are gone before
            rows, skip = stored * 7 // 10, stored * 3 // 10  # it), the count up to two thirds
        else:  # the page first, the count up to the middle of the rest
            rows, skip = (stored + size) // 2, 0
        cut = upto if rows == stored else self._id_at(after, upto, rows)
        if cut is None:  # the warehouse changed meanwhile: list it
            self.list_range(after, upto)
            return True
        probe = self.probe(after, cut, skip)
        if probe is None:  # no $count
            if missing is None:
                return False
            self.list_range(after, upto)
            return True
        count, records, skip = probe
        self._search_cut(after, cut, rows, count, skip, records)
        if cut != upto:
            self.search(cut, upto, stored - rows, missing - (rows - count))
        return True

    def _search_cut(self, after: int | None, cut: int, rows: int, count: int, skip: int,
                    records: list[dict[str, Any]]) -> None:
        """``(after, cut]`` holds ``rows`` warehouse rows and ``count`` Ploomes records, whose page at
        position ``skip`` is ``records``: list the page, search what lies before and after it."""
        gone = rows - count
        if not records and skip:  # the offset lies past what Ploomes holds there: the count alone
            self.search(after, cut, rows, gone)
            return
        if not records:
            if count:
                raise PloomesPagingError(f"Ploomes counted {count} {self.stream.endpoint} in ({after}, {cut}] but "
                                         "answered no page of them: the listing cannot tell which are gone.")
            self.ranges.append(IdRange(after, cut, listed=True, ploomes_count=0, warehouse_count=rows))
            return
        first, last = records[0]["Id"], records[-1]["Id"]
        start = first - 1 if skip else after  # the listed range: (start, end]
        end = cut if count <= skip + len(records) else last  # the page reaches the end of the range
        before = self._stored(after, start) if skip else 0
        inside = self._stored(start, end)
        gone_before = before - skip  # Ploomes holds `skip` records before the page
        gone_after = gone - gone_before - (inside - len(records))
        if skip and not (0 <= gone_before <= gone and gone_after >= 0):
            if self.by_position:
                log.warning("%s: the page at position %s past Id %s is not where the warehouse's rows put it "
                            "(Ploomes did not honour $skip, or holds records the extract set aside there): "
                            "searching without offsets from here on", self.stream.name, skip, after)
            self.by_position = False
            self.search(after, cut, rows, gone)
            return
        self._stage(records)
        self.ranges.append(IdRange(start, end, listed=True, ploomes_count=len(records), warehouse_count=inside))
        self.search(after, start, before, gone_before)
        self.search(end, cut, rows - before - inside, gone_after)

    def probe(self, after: int | None, upto: int, skip: int) -> tuple[int, list[dict[str, Any]], int] | None:
        """One request: how many records Ploomes holds in ``(after, upto]``, its page of the listing's
        columns at position ``skip`` (in Id order) and that position (0 when Ploomes refused the
        offset); None when the count is not answered."""
        paginator = KeysetPaginator(self.page_size, self.listing.base_filter, after=after, upto=upto)
        params = query_options(self.listing.select, self.listing.expand_option)
        paginator.init_request(params)  # $orderby=Id, $top, the range's filter, $count=true
        if skip:
            params["$skip"] = str(skip)
        self.probes += 1
        try:
            payload = self.hook.fetch(self.listing.endpoint, params, clock=self.clock)
        except PloomesBadRequestError as exc:
            if not skip:
                raise
            log.warning("%s: Ploomes refused an offset (%s): searching without offsets from here on",
                        self.stream.name, exc)
            self.by_position = False
            return self.probe(after, upto, 0)
        records, count = payload["value"], odata_count(payload)
        paginator.update_state(records, count=count)  # checks the page's Ids: ascending, inside the range
        return None if count is None else (count, records, skip)

    def list_range(self, after: int | None, upto: int | None) -> None:
        """Read every record of ``(after, upto]`` into the listing staging (a listed range)."""
        self._count(read_into_stage(self.listing, self.run_id, hook=self.hook, conn=self.conn,
                                    reject_conn=self.reject_conn, after=after, upto=upto, clock=self.clock,
                                    context=self.context))
        self.ranges.append(IdRange(after, upto, listed=True))

    def _stage(self, records: list[dict[str, Any]]) -> None:
        self._count(stage_pages(self.listing, self.run_id, [records], conn=self.conn, reject_conn=self.reject_conn,
                                context=self.context))

    def _count(self, counts: dict[str, Any]) -> None:
        for key in READ_TOTALS:
            self.totals[key] += counts[key]

    def _stored(self, after: int | None, upto: int) -> int:
        return warehouse.warehouse_count(self.conn, self.stream, after, upto)

    def _id_at(self, after: int | None, upto: int, position: int) -> int | None:
        cut = warehouse.id_at(self.conn, self.stream, after, upto, position)
        return cut if cut is not None and cut < upto else None


def rejects_in(counted: list[IdRange], conn: psycopg.Connection, stream: Stream, run_id: str) -> list[IdRange]:
    """One-record ranges to list: the records the run's extract set aside that lie in ``counted``."""
    ids = sorted(int(i) for i in warehouse.rejected_ids(conn, stream.name, run_id) if i.isascii() and i.isdigit())
    return [IdRange(i - 1, i, listed=True) for i in ids
            if any((r.id_after is None or i > r.id_after) and (r.id_upto is None or i <= r.id_upto) for r in counted)]


def list_stream(stream: Stream, plan: RunPlan, method: str, *, hook: PloomesHook, conn: psycopg.Connection,
                reject_conn: psycopg.Connection, config: SyncConfig) -> dict[str, Any]:
    """List ``stream`` for this run (``method``: ``"full"`` or ``"count"``); what it did."""
    clock = ReadClock()  # Ploomes' clock over the listing's counts and reads
    search = CountSearch(stream, hook, conn, reject_conn, plan.run_id, clock,
                         context=account_context(conn, hook, config.client_tag_id))
    listing_stream = search.listing
    warehouse.clear_stage(conn, listing_stream, plan.run_id)
    warehouse.clear_listing(conn, plan.run_id, stream.name)
    started_wh = warehouse.warehouse_now(conn)
    requests_before = hook.stats.requests
    read_began = warehouse.staged(conn, stream, plan.run_id).read_started_at
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
    for stream in streams or registry(config.quote_entity_id):
        method = plan.listing(stream.name)
        if method in LISTED_BY_THE_TASK:
            with stream_endpoint(stream.name):
                done[stream.name] = list_stream(stream, plan, method, hook=paced, conn=conn,
                                                reject_conn=reject_conn, config=config)
    return done


def needs_listing(plan: RunPlan) -> bool:
    """Whether this run lists a stream itself (else the task has nothing to do)."""
    return any(own.listing in LISTED_BY_THE_TASK for own in plan.streams.values())

"""One read of a Ploomes list, kept at the rate limit whatever the API's latency.

Keyset paging asks for one page at a time, so on its own the API's latency, not the rate, sets the
pace (at 1 s an answer and 2 requests a second allowed, half the budget goes unused). A
:class:`PageReader` therefore cuts a large read into disjoint Id ranges and reads them side by
side, each keyset-paged (see :mod:`ploomes_sync.api.paging`):

1. the first page of the whole read (with ``$count=true``) and, for a whole list (no filter, no
   bounds), its highest page (``$orderby=Id desc``) at the same time: what lies above that page
   was created during the read and is left to the next one, so the ranges below end on a known Id;
2. the rest, past the last Id of page 1, cut into up to ``max_in_flight`` ranges by position: each
   range but the lowest starts with the page at an offset (``$skip``) and takes over the Ids from
   that page's first record on; the offsets leave every range but the highest one record short of
   whole pages, so each range ends on a short page and no request is spent to learn it ended.
   Where ``$count`` is not answered, the ranges are cut by Id, of about equal width, up to the
   highest page (or the highest Id a probe asks for, ``$orderby=Id desc&$top=1``); their last
   pages are rarely full;
3. a thread whose range ends takes the upper half of the range with the most left to read.

An offset only places where a range begins, never where a page does: whatever the list does
meanwhile, each Id belongs to exactly one range at any time (a page read by position takes over
its span from the range that held it, less what that range has already handed over), and a page
still in flight when its range shrinks is cut to the new bound. So no record that exists for the
whole read is lost or read twice, even if the API ignores ``$skip``; the highest page is used only
when it comes in descending Id order.

Every request still waits for the rate limiter (the hook's), so this adds requests in flight, not
requests. What the latency still costs: its own length at the end, and at the start the requests
the rate would allow before page 1 has answered, less the highest page.

Pages reach the caller in the order they arrive (not in Id order), at most ``max_in_flight``
ahead of it: a caller slower than the API slows the reading instead of piling up pages. When the
caller stops (an error of its own, or it has had enough) the read is cancelled at once: no new
request starts, waits for the limiter or between retries end, and the threads (daemons) are
never waited for.
"""

from __future__ import annotations

import logging
import math
import queue
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from ploomes_sync.api.errors import PloomesBadRequestError, PloomesError, PloomesPagingError, ReadCancelled
from ploomes_sync.api.paging import KEY, KeysetPaginator, id_range_filter

log = logging.getLogger(__name__)

#: Fetch one page: query parameters and the cancel event in, the JSON object out.
Fetch = Callable[[Mapping[str, str], threading.Event], dict[str, Any]]

MIN_PAGES_PER_RANGE = 4  # a range is worth a thread of its own when it holds at least this much
LATENCY_MARGIN = 1.25  # answers vary: a few more requests in flight than the latency seen needs
_DONE = object()


@dataclass
class Page:
    """One non-empty page: its number in arrival order (from 1), its records and the last Id in it."""

    number: int
    records: list[dict[str, Any]]
    last_id: int


def odata_count(payload: Mapping[str, Any]) -> int | None:
    """``@odata.count`` of a list answer (an integer, or digits as servers in IEEE754 mode send), else None."""
    value = payload.get("@odata.count")
    if type(value) is int:
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return None


def _in_id_order(records: list[Any]) -> bool:
    """Whether every record has an integer Id, in strictly ascending order."""
    ids = [record.get(KEY) if isinstance(record, Mapping) else None for record in records]
    return all(type(key) is int for key in ids) and all(a < b for a, b in zip(ids, ids[1:], strict=False))


class PageReader:
    """Every record of one list read (``params``: ``$select``/``$expand``; ``base_filter``), page by page."""

    def __init__(
        self,
        fetch: Fetch,
        *,
        params: Mapping[str, str],
        page_size: int,
        base_filter: str | None = None,
        after: int | None = None,
        upto: int | None = None,
        max_in_flight: int = 1,
        interval: float = 0.0,
        latency: Callable[[], float | None] = lambda: None,
        full_page: int | None = None,
    ) -> None:
        self._fetch = fetch
        self._params = dict(params)
        self._page_size = page_size
        self._base_filter = base_filter
        self._max_in_flight = max(1, max_in_flight)
        self._interval = interval  # seconds between two requests the rate allows
        self._latency = latency  # seconds the API took to answer the last request
        self.full_page = full_page  # size of a page the API is known to fill
        self.cancel = threading.Event()
        self.count: int | None = None  # @odata.count of the whole read, when answered
        self._lock = threading.Lock()
        self._out: queue.Queue[Any] = queue.Queue()
        self._slots = threading.Semaphore(self._max_in_flight)
        self._active: list[KeysetPaginator] = []
        self._workers = 0
        self._first = KeysetPaginator(page_size, base_filter, after=after, upto=upto)
        self._ranges: list[KeysetPaginator] = [self._first]  # every range, ended or not: they partition the Ids
        # a whole list's read asks for its highest page alongside page 1 (see the module docstring)
        self._top_wanted = self._max_in_flight > 1 and not base_filter and after is None and upto is None
        self._top_asked = False  # the highest page went out (page 1 had not answered an interval after it left)
        self._top_done = threading.Event()  # ... and has been taken over, set aside, or was never asked
        self._first_answered = False
        self._max_id: int | None = upto
        self._first_seen: int | None = None  # the first Id of the read
        self._density: float | None = None  # records per Id, from the first page

    @property
    def ranges(self) -> int:
        """How many Id ranges the read has had so far (the highest page counts as one)."""
        with self._lock:
            return len(self._ranges)

    # --- the caller's side ------------------------------------------------------------------

    def __iter__(self) -> Iterator[Page]:
        self._start(self._run_first)
        if self._top_wanted:
            self._start(self._run_top)
        number = 0
        try:
            while self._workers_running():
                item = self._out.get()
                if item is _DONE:
                    continue
                if isinstance(item, BaseException):
                    raise item
                number += 1
                records, last_id = item
                self._slots.release()
                yield Page(number, records, last_id)
                del records, item  # keep nothing of a page the caller has moved past
        finally:
            self.cancel.set()

    def _workers_running(self) -> bool:
        with self._lock:
            return self._workers > 0 or not self._out.empty()

    # --- the threads ------------------------------------------------------------------------

    def _start(self, target: Callable[..., None], *args: Any) -> None:
        with self._lock:
            self._workers += 1
        threading.Thread(target=self._guard, args=(target, *args), daemon=True,
                         name=f"ploomes-read-{self._workers}").start()

    def _guard(self, target: Callable[..., None], *args: Any) -> None:
        try:
            target(*args)
        except ReadCancelled:
            pass
        except BaseException as exc:  # noqa: BLE001 (handed to the caller, who raises it)
            self.cancel.set()
            self._out.put(exc)
        finally:
            with self._lock:
                self._workers -= 1
            self._out.put(_DONE)

    def _slot(self) -> None:
        while not self._slots.acquire(timeout=0.2):
            if self.cancel.is_set():
                raise ReadCancelled("read cancelled")
        if self.cancel.is_set():
            raise ReadCancelled("read cancelled")

    def _page(self, paginator: KeysetPaginator, *, first: bool) -> bool:
        """Read the paginator's next page and hand it over; False once its range has ended."""
        params = dict(self._params)
        if first:
            paginator.init_request(params)
        else:
            paginator.init_request(params, count=False)
        self._slot()
        payload = self._fetch(params, self.cancel)
        records = payload["value"]
        with self._lock:
            if paginator.upto is not None and records and isinstance(records[-1], Mapping):
                # the range was split while this page was in flight: what lies past the new bound
                # belongs to the new range, which reads it itself
                kept = [r for r in records if not (type(r.get(KEY)) is int and r[KEY] > paginator.upto)]
                trimmed = len(kept) < len(records)
                records = kept
            else:
                trimmed = False
            full = len(records) >= self._page_size and not trimmed
            if full:
                self.full_page = self._page_size
            paginator.update_state(records, count=odata_count(payload) if first else None,
                                   full_page=None if trimmed else self.full_page)
            if trimmed:
                paginator.update_state([])  # the range reached its new bound
        if records:
            if first and paginator is self._first and type(records[0].get(KEY)) is int:
                self._first_seen = records[0][KEY]
            self._out.put((records, paginator.last_key))
        else:
            self._slots.release()
        return paginator.has_next_page

    def _run_first(self) -> None:
        """Page 1 of the whole read; then, for a large read, cut the rest into ranges."""
        first = self._first
        more = self._page(first, first=True)
        self.count = count = first.expected
        seen = first.received
        with self._lock:
            self._first_answered = True
            top_asked = self._top_asked
        if not more:
            return
        if top_asked and count is not None and count - seen < 2 * self._page_size:
            # what is left fits in the highest page and one more: wait for its bound rather than
            # read into it (the request would be spent on records the highest page brings)
            self._wait_for(self._top_done)
        elif self._max_in_flight > 1 and seen >= self._page_size and self._first_seen is not None \
                and first.after is not None:  # a short page 1 says nothing about what is left
            self._density = seen / max(1, first.after - self._first_seen + 1)
            if self._max_id is None and count is not None:
                # @odata.count says how much is left: the Ids it spans follow from page 1's density
                self._max_id = first.after + math.ceil((count - seen) / self._density)
            if count is not None:
                self._cut_by_position(first, count - seen, below_top=top_asked)
            else:
                if top_asked:  # the highest page bounds the read: no probe needed if it is used
                    self._wait_for(self._top_done)
                    self._max_id = first.upto if first.upto is not None else self._max_id
                if self._max_id is None and self._ranges_wanted(None) > 1:
                    try:
                        self._probe()
                    except PloomesError as exc:  # read on unsplit; the same error, if lasting, fails the read
                        log.info("Could not learn the highest Id (%s): reading without splitting", exc)
                self._cut(first)
        self._follow(first)

    def _run_top(self) -> None:
        """The highest page of the list, asked only when page 1 has not answered an interval of the rate
        after it left (so the request uses a turn that would go unused): it bounds the ranges below,
        and what lies above it was created during the read (left to the next one). Used only in
        descending Id order; else the request was spent for nothing."""
        try:
            if self.cancel.wait(self._interval):
                raise ReadCancelled("read cancelled")
            with self._lock:
                if self._first_answered:
                    return
                self._top_asked = True
            self._read_top()
        finally:
            self._top_done.set()

    def _wait_for(self, event: threading.Event) -> None:
        while not event.wait(0.2):
            if self.cancel.is_set():
                raise ReadCancelled("read cancelled")

    def _read_top(self) -> None:
        params = dict(self._params)
        params.update({"$orderby": f"{KEY} desc", "$top": str(self._page_size)})
        self._slot()
        try:
            records = self._fetch(params, self.cancel)["value"]
        except PloomesBadRequestError as exc:
            log.warning("Ploomes refused the highest page (%s): reading on without it", exc)
            self._slots.release()
            return
        if len(records) < 2 or not _in_id_order(records[::-1]):
            log.info("The highest page came in %s records not in descending Id order: reading on without it",
                     len(records))
            self._slots.release()
            return
        self._take_over(records[::-1], follow=False)

    def _run_at(self, after: int, offset: int) -> None:
        """A range that starts at position ``offset`` past Id ``after``: its first page, then the rest."""
        params = dict(self._params)
        params.update({"$orderby": KEY, "$top": str(self._page_size), "$skip": str(offset)})
        params["$filter"] = id_range_filter(self._base_filter, after, None) or ""
        self._slot()
        try:
            records = self._fetch(params, self.cancel)["value"]
        except PloomesBadRequestError as exc:  # an API that refuses offsets: the ranges below read on
            log.warning("Ploomes refused the page at position %s (%s): the ranges below read its records", offset,
                        exc)
            self._slots.release()
            self._follow(self._steal())
            return
        if not _in_id_order(records):
            ids = [record.get(KEY) if isinstance(record, Mapping) else None for record in records[:5]]
            raise PloomesPagingError(
                f"The page at position {offset} past Id {after} is not in ascending {KEY} order of integer "
                f"Ids ({ids}...): the API ignored $orderby, and reading on could skip records."
            )
        paginator = self._take_over(records, follow=True) if records else None
        if paginator is None:
            if not records:
                self._slots.release()
            paginator = self._steal()
        self._follow(paginator, first_page=paginator is not None and paginator.pages == 0)

    def _take_over(self, records: list[dict[str, Any]], *, follow: bool) -> KeysetPaginator | None:
        """A new range for a run of the list read by position (``records``, ascending Ids): it takes
        over the Ids from the run's first on from the range that holds them, hands over what that
        range has not, and goes on from the run's last (``follow``) or ends there. None (the slot
        freed) when nothing in the run is new."""
        with self._lock:
            if len(records) >= self._page_size:
                self.full_page = self._page_size
            full = self.full_page or self._page_size
            low = records[0][KEY]
            owner = next((r for r in self._ranges if r.holds(low)), None)
            done = owner.after if owner is not None else None  # the owner's last Id read (or its start)
            kept = [] if owner is None else [
                r for r in records if (done is None or r[KEY] > done) and (owner.upto is None or r[KEY] <= owner.upto)
            ]
            if owner is None or not kept:
                self._slots.release()
                return None
            at = low - 1 if done is None else max(done, low - 1)
            taken = owner.hand_over(at)
            taken.update_state(kept)
            if not follow or kept[-1] is not records[-1] \
                    or len(records) < full:  # past the owner's bound, or nothing more at the time of the answer
                taken.close()
            self._ranges.append(taken)
            if taken.has_next_page:
                self._active.append(taken)
            self._out.put((kept, taken.last_key))
            return taken

    def _cut_by_position(self, first: KeysetPaginator, left: int, *, below_top: bool) -> None:
        """Cut the ``left`` records past page 1 (less the highest page when ``below_top``) into ranges
        that start at offsets: every range but the highest holds whole pages less one record, so it
        ends on a short page; ``first`` goes on with the lowest."""
        assert first.after is not None
        size = self.full_page or self._page_size
        left -= size if below_top else 0
        ranges = self._ranges_wanted(math.ceil(left / size))
        if ranges < 2:
            return
        pages = math.ceil((left + ranges - 1) / size)  # one record of each range but the highest is not read there
        share, more = divmod(pages, ranges)
        # the pages left over go to the ranges that start by position: their first requests go out
        # before the next of ``first``, so the ranges end in the same round and none is left alone
        sizes = [share] + [share + (1 if number < more else 0) for number in range(ranges - 1)]
        offsets, position = [], 0
        for pages_of_range in sizes[:-1]:
            position += pages_of_range * size - 1
            offsets.append(position)
        log.info("Reading the rest in %s ranges side by side, starting at positions %s past Id %s (about %s "
                 "pages)", ranges, offsets, first.after, pages)
        with self._lock:
            self._active = [first]
        for offset in offsets:
            self._start(self._run_at, first.after, offset)

    def _ranges_wanted(self, pages: int | None) -> int:
        """Ranges to read side by side: enough requests in flight to hold the rate at the latency seen
        (a range has one at a time), each range worth a few pages, at most ``max_in_flight``."""
        latency = self._latency()
        wanted = self._max_in_flight
        if self._interval > 0 and latency is not None:  # a range starts its next request an answer later
            wanted = min(wanted, math.ceil(LATENCY_MARGIN * latency / self._interval))
        if pages is not None:
            wanted = min(wanted, pages // MIN_PAGES_PER_RANGE)
        return max(1, wanted)

    def _probe(self) -> None:
        params = {key: value for key, value in self._params.items() if key not in ("$select", "$expand")}
        params.update({"$orderby": f"{KEY} desc", "$top": "1", "$select": KEY})
        value = self._base_filter
        if value:
            params["$filter"] = value
        payload = self._fetch(params, self.cancel)
        records = payload.get("value") or []
        if records and type(records[0].get(KEY)) is int:
            self._max_id = records[0][KEY]

    def _cut(self, first: KeysetPaginator) -> None:
        """Cut ``(first.after, highest Id]`` and beyond into ranges; ``first`` keeps the lowest."""
        low, high = first.after, self._max_id
        if low is None or high is None or high <= low or self._density is None:
            return
        if first.expected is not None:
            remaining = first.expected - first.received
        else:
            remaining = (high - low) * self._density
        pages = math.ceil(remaining / self._page_size)
        ranges = self._ranges_wanted(pages)
        if ranges < 2:
            return
        width = (high - low) / ranges
        cursors = [first]
        with self._lock:
            for i in range(1, ranges):
                bound = low + round(width * i)
                tail = cursors[-1]
                if tail.after is not None and bound > tail.after and (tail.upto is None or bound < tail.upto):
                    cursors.append(tail.split(bound))  # tail keeps (after, bound]; the new one the rest
            self._ranges += cursors[1:]
            self._active = list(cursors)
        log.info("Reading the rest in %s Id ranges side by side (Ids %s..%s, about %s pages)",
                 len(cursors), low, high, pages)
        for cursor in cursors[1:]:
            self._start(self._follow, cursor, True)

    def _follow(self, paginator: KeysetPaginator | None, first_page: bool = False) -> None:
        """Read a range to its end, then help with the range that has the most left."""
        while paginator is not None:
            while paginator.has_next_page:
                self._page(paginator, first=first_page)
                first_page = False
            with self._lock:
                if paginator in self._active:
                    self._active.remove(paginator)
            paginator = self._steal()
            first_page = True

    def _steal(self) -> KeysetPaginator | None:
        """The upper half of the active range with the most left, when worth a thread; else None."""
        if self._density is None or self.cancel.is_set():
            return None
        with self._lock:
            best, best_left = None, 0.0
            for cursor in self._active:
                if cursor.after is None:
                    continue
                top = cursor.upto if cursor.upto is not None else self._max_id
                if top is None:
                    continue
                left = (top - cursor.after) * self._density
                if left > best_left:
                    best, best_left = cursor, left
            if best is None or best_left < self._page_size * MIN_PAGES_PER_RANGE:
                return None
            top = best.upto if best.upto is not None else self._max_id
            assert best.after is not None and top is not None
            at = best.after + (top - best.after) // 2
            if at <= best.after or (best.upto is not None and at >= best.upto):
                return None
            stolen = best.split(at)
            self._ranges.append(stolen)
            self._active.append(stolen)
            return stolen

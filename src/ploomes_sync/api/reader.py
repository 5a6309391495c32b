"""One read of a Ploomes list, kept at the rate limit whatever the API's latency.

Keyset paging asks for one page at a time, so on its own the API's latency, not the rate, sets the
pace (at 1 s an answer and 2 requests a second allowed, half the budget goes unused). A
:class:`PageReader` therefore cuts a large read into disjoint Id ranges and reads them side by
side, each still keyset-paged (see :mod:`ploomes_sync.api.paging`):

1. the first page of the whole read (with ``$count=true``); its density of records per Id and the
   count give the highest Id to expect, and where ``$count`` is not answered a probe asks for it
   (``$orderby=Id desc&$top=1``);
2. the rest, ``(last Id of page 1, highest Id]`` and beyond, cut into up to ``max_in_flight``
   ranges of about equal width, each read by a thread of its own (one request in flight each);
3. a thread whose range ends takes the upper half of the range with the most left to read.

Every request still waits for the rate limiter (the hook's), so this adds requests in flight, not
requests: a range's last page is rarely full, which costs about half a request per range, and the
ranges start only once page 1 has answered (the budget of one latency goes unused at the start).

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

from ploomes_sync.api.errors import PloomesError, ReadCancelled
from ploomes_sync.api.paging import KEY, KeysetPaginator

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
        self.ranges = 1
        self._lock = threading.Lock()
        self._out: queue.Queue[Any] = queue.Queue()
        self._slots = threading.Semaphore(self._max_in_flight)
        self._active: list[KeysetPaginator] = []
        self._workers = 0
        self._first = KeysetPaginator(page_size, base_filter, after=after, upto=upto)
        self._max_id: int | None = upto
        self._first_seen: int | None = None  # the first Id of the read
        self._density: float | None = None  # records per Id, from the first page

    # --- the caller's side ------------------------------------------------------------------

    def __iter__(self) -> Iterator[Page]:
        self._start(self._run_first)
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
        self.count = first.expected
        if not more:
            return
        if self._max_in_flight > 1 and first.received >= self._page_size and self._first_seen is not None \
                and first.after is not None:  # a short page 1 says nothing about what is left
            self._density = first.received / max(1, first.after - self._first_seen + 1)
            if self._max_id is None and first.expected is not None:
                # @odata.count says how much is left: the Ids it spans follow from page 1's density
                self._max_id = first.after + math.ceil((first.expected - first.received) / self._density)
            elif self._max_id is None and self._ranges_wanted(None) > 1:
                try:
                    self._probe()
                except PloomesError as exc:  # read on unsplit; the same error, if lasting, fails the read
                    log.info("Could not learn the highest Id (%s): reading without splitting", exc)
            self._cut(first)
        self._follow(first)

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
        for i in range(1, ranges):
            bound = low + round(width * i)
            tail = cursors[-1]
            if tail.after is not None and bound > tail.after and (tail.upto is None or bound < tail.upto):
                cursors.append(tail.split(bound))  # tail keeps (after, bound]; the new one the rest
        self.ranges = len(cursors)
        with self._lock:
            self._active = list(cursors)
        log.info("Reading the rest in %s Id ranges side by side (Ids %s..%s, about %s pages)",
                 len(cursors), low, high, pages)
        for cursor in cursors[1:]:
            self._start(self._follow, cursor, True)

    def _follow(self, paginator: KeysetPaginator, first_page: bool = False) -> None:
        """Read a range to its end, then help with the range that has the most left."""
        while True:
            more = self._page(paginator, first=first_page)
            first_page = False
            while more:
                more = self._page(paginator, first=False)
            with self._lock:
                if paginator in self._active:
                    self._active.remove(paginator)
            paginator = self._steal()
            if paginator is None:
                return
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
            self._active.append(stolen)
            self.ranges += 1
            return stolen

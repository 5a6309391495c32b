"""One read of a Ploomes list, kept at the rate limit whatever the API's latency.

:func:`read_pages` is the entry point: a read through the hook's ``fetch`` (its rate limit, its
retries). Keyset paging (:mod:`ploomes_sync.api.paging`, the hook's ``paginate``) asks for one page
at a time, so on its own the API's latency, not the rate, sets the pace (at 1 s an answer and 2
requests a second allowed, half the budget goes unused). A :class:`PageReader` cuts a large read
into disjoint Id ranges, each a :class:`~ploomes_sync.api.paging.KeysetPaginator`, and reads them
side by side, a thread a range and at most ``max_in_flight`` requests out at once. Every request
still waits for the hook's rate limiter: this adds requests in flight, not requests.

1. Page 1 of the whole read, with ``$count=true``: how much is left, and how dense the Ids are.
2. The rest, past page 1's last Id, is cut into as many ranges as the latency seen needs (at most
   ``max_in_flight``, each worth a few pages). Where ``$count`` is answered, by position: each
   range but the lowest starts with the page at an offset (``$skip``) and takes over the Ids from
   that page's first record on. Else by Id, of about equal width, up to the highest Id (the
   highest page's, or one probe ``$orderby=Id desc&$top=1``).
3. A thread whose range has ended takes over the upper half of the range with the most left (two
   pages or more: the last pages of a range are not left to be read an answer apart); and
   whenever the mean latency of the read's answers so far needs more requests in flight than
   ranges are being read (page 1 is one answer: a fast one says little), a new thread takes one.

Two refinements buy seconds at high latency; ``make bench`` measures each by turning it off
(:attr:`PageReader.top_page`, :attr:`PageReader.by_position`):

- *the highest page*: a whole list's read whose page 1 has not answered one turn of the rate after
  it left also asks for the list's highest page (``$orderby=Id desc``), a turn that would go
  unused. It bounds the ranges below; what lies above it was created during the read and is left
  to the next one. It is used only when it comes in descending Id order.
- *offsets sized to whole pages*: every range cut by position but the highest holds whole pages
  less one record, so it ends on a short page and no request is spent to learn that it ended.

Neither is needed for correctness. An offset only places where a range begins: the
:class:`Partition` gives every Id to exactly one range at any time (a run of the list read by
position takes its span over from the range that held it, less what that range has already read),
and a page still in flight when its range shrinks is cut to the new bound. So no record that
exists for the whole read is lost or read twice, even if the API ignores ``$skip``.

Pages reach the caller in the order they arrive (not in Id order), at most ``max_in_flight`` ahead
of it. When the caller stops (an error of its own, or it has had enough) the read is cancelled at
once: no new request starts, waits for the limiter or between retries end, and the threads are
never waited for (daemons: a task's process that fails ends without waiting for the answers in
flight, and so frees its slot of the API pool).
"""

from __future__ import annotations

import logging
import math
import queue
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from ploomes_sync.api.errors import (
    PloomesBadRequestError,
    PloomesError,
    PloomesPagingError,
    PloomesRequestError,
    ReadCancelled,
    timed_out,
)
from ploomes_sync.api.options import PloomesOptions
from ploomes_sync.api.paging import KEY, KeysetPaginator, id_range_filter, query_options
from ploomes_sync.api.stats import RequestStats
from ploomes_sync.settings import MIN_EXPANDED_PAGE_SIZE, READ_CEILING_FACTOR, READ_CEILING_MARGIN

log = logging.getLogger(__name__)

#: Fetch one page: query parameters and the cancel event in, the JSON object out.
Fetch = Callable[[Mapping[str, str], threading.Event], dict[str, Any]]
Records = list[dict[str, Any]]

MIN_PAGES_PER_RANGE = 4  # a range is worth a thread of its own when it holds at least this much
MIN_PAGES_TO_STEAL = 2  # ... and a thread whose range ended takes half of one that holds this much
LATENCY_MARGIN = 1.25  # answers vary: a few more requests in flight than the latency seen needs
_DONE = object()


@dataclass
class Page:
    """One non-empty page: its number in arrival order (from 1), its records and the last Id in it;
    ``count``: what Ploomes counted for the whole read (None when it did not say)."""

    number: int
    records: Records
    last_id: int
    count: int | None = None


class ReadClock:
    """Ploomes' clock around a read, from the ``Date`` of its answers (whole seconds), as the sync
    needs it for its watermarks: :attr:`asked_at`, the earliest answer's Date less the time it took
    (no request of the read left before it); :attr:`answered_at`, the latest Date (no record read
    was changed after it). Threads of a read side by side report to it at once."""

    def __init__(self) -> None:
        self.asked_at: datetime | None = None
        self.answered_at: datetime | None = None
        self._lock = threading.Lock()

    def answered(self, date: datetime, elapsed: timedelta) -> None:
        """An answer dated ``date`` came ``elapsed`` after its request left."""
        with self._lock:
            if self.asked_at is None or date - elapsed < self.asked_at:
                self.asked_at = date - elapsed
            if self.answered_at is None or date > self.answered_at:
                self.answered_at = date


def odata_count(payload: Mapping[str, Any]) -> int | None:
    """``@odata.count`` of a list answer (an integer, or digits as servers in IEEE754 mode send), else
    None: a count below 0, fractional or of another type is no count."""
    value = payload.get("@odata.count")
    if type(value) is int:
        return value if value >= 0 else None
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return None


def _in_id_order(records: list[Any]) -> bool:
    """Whether every record has an integer Id, in strictly ascending order."""
    ids = [record.get(KEY) if isinstance(record, Mapping) else None for record in records]
    return all(type(key) is int for key in ids) and all(a < b for a, b in zip(ids, ids[1:], strict=False))


class Partition:
    """The Ids of one read, shared among its ranges: each Id belongs to exactly one range at any time.

    Every change of a range's bounds, and every page taken in, happens here under one lock, whichever
    thread reads what when.
    """

    def __init__(self, first: KeysetPaginator) -> None:
        self.lock = threading.Lock()
        self.ranges = [first]  # every range, ended or not: together they cover the read's Ids
        self.active = [first]  # the ranges still being read
        self.page_size = first.page_size
        self.full_page: int | None = None  # the size of a page the API was seen to fill
        self.max_id: int | None = first.upto  # the highest Id the read needs, when known
        self.density: float | None = None  # records per Id, from page 1

    def take_page(self, paginator: KeysetPaginator, records: Records, count: int | None) -> Records:
        """What of a page read for ``paginator`` is still its own (it may have shrunk meanwhile), taken in."""
        with self.lock:
            kept = records
            if paginator.upto is not None:
                kept = [r for r in records if not (type(r.get(KEY)) is int and r[KEY] > paginator.upto)]
            trimmed = len(kept) < len(records)  # past the new bound: the range above reads it
            if len(records) >= self.page_size and not trimmed:
                self.full_page = self.page_size
            paginator.update_state(kept, count=count, full_page=None if trimmed else self.full_page)
            if trimmed:
                paginator.close()
            if not paginator.has_next_page and paginator in self.active:
                self.active.remove(paginator)
            return kept

    def take_over(self, records: Records, *, follow: bool) -> tuple[KeysetPaginator | None, Records]:
        """A new range for a run of the list read by position (``records``, ascending Ids): it takes
        over the Ids from the run's first on from the range that holds them, less what that range has
        read, and goes on past the run (``follow``) or ends with it. (None, []) when nothing is new."""
        with self.lock:
            if len(records) >= self.page_size:
                self.full_page = self.page_size
            low = records[0][KEY]
            owner = next((r for r in self.ranges if r.holds(low)), None)
            if owner is None:
                return None, []
            done = owner.after  # the owner's last Id read (or where it starts)
            kept = [r for r in records
                    if (done is None or r[KEY] > done) and (owner.upto is None or r[KEY] <= owner.upto)]
            if not kept:
                return None, []
            taken = owner.hand_over(low - 1 if done is None else max(done, low - 1))
            if owner in self.active and not owner.has_next_page:
                self.active.remove(owner)
            taken.update_state(kept)
            if not follow or kept[-1] is not records[-1] or len(records) < (self.full_page or self.page_size):
                taken.close()  # past the owner's bound, or nothing more at the time of the answer
            self.ranges.append(taken)
            if taken.has_next_page:
                self.active.append(taken)
            return taken, kept

    def split(self, paginator: KeysetPaginator, bounds: list[int]) -> list[KeysetPaginator]:
        """Cut ``paginator``'s range at ``bounds`` (ascending); it keeps the lowest part; the new ranges."""
        made: list[KeysetPaginator] = []
        with self.lock:
            tail = paginator
            for bound in bounds:
                if tail.after is not None and bound > tail.after and (tail.upto is None or bound < tail.upto):
                    tail = tail.split(bound)
                    made.append(tail)
            self.ranges += made
            self.active += made
        return made

    def steal(self) -> KeysetPaginator | None:
        """The upper half of the active range with the most left by Id, when worth a thread; else None."""
        with self.lock:
            if self.density is None:
                return None

            def left(cursor: KeysetPaginator) -> float:
                top = cursor.upto if cursor.upto is not None else self.max_id
                return 0.0 if cursor.after is None or top is None else (top - cursor.after) * self.density

            best = max(self.active, key=left, default=None)
            if best is None or left(best) < self.page_size * MIN_PAGES_TO_STEAL:
                return None
            top = best.upto if best.upto is not None else self.max_id
            assert best.after is not None and top is not None
            at = best.after + (top - best.after) // 2
            if at <= best.after or (best.upto is not None and at >= best.upto):
                return None
            stolen = best.split(at)
            self.ranges.append(stolen)
            self.active.append(stolen)
            return stolen


class PageReader:
    """Every record of one list read (``params``: ``$select``/``$expand``; ``base_filter``), page by page."""

    top_page = True  # ask for the highest page while page 1 is slow (make bench turns it off to measure it)
    by_position = True  # where $count is answered, cut the ranges by offset to whole pages (likewise)

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
        min_page_size: int | None = None,
    ) -> None:
        self._fetch = fetch
        self._params = dict(params)
        self._page_size = page_size
        self._min_page_size = min_page_size  # a page that timed out is asked again half as large, down to this
        self._base_filter = base_filter
        self._max_in_flight = max(1, max_in_flight)
        self._interval = interval  # seconds between two requests the rate allows
        self._latency = latency  # seconds the API took to answer the last request
        self._answers = 0  # answers this read has had, and the seconds they took in all
        self._answer_seconds = 0.0
        self.cancel = threading.Event()
        self.count: int | None = None  # @odata.count of the whole read, when answered
        self._first = KeysetPaginator(page_size, base_filter, after=after, upto=upto)
        self._ids = Partition(self._first)
        self._out: queue.Queue[Any] = queue.Queue()
        self._slots = threading.Semaphore(self._max_in_flight)  # pages in flight or not yet taken by the caller
        self._running = 0
        # the highest page: wanted for a whole list's read; asked only while page 1 is slow
        self._top_wanted = self.top_page and self._max_in_flight > 1 and not base_filter and after is None \
            and upto is None
        self._first_answered = False
        self._top_asked = False
        self._top_done = threading.Event()

    @property
    def ranges(self) -> int:
        """How many Id ranges the read has had so far (the highest page counts as one)."""
        with self._ids.lock:
            return len(self._ids.ranges)

    # --- the caller's side ------------------------------------------------------------------

    def __iter__(self) -> Iterator[Page]:
        self._start(self._read_first)
        if self._top_wanted:
            self._start(self._read_top)
        number = 0
        try:
            while self._busy():
                item = self._out.get()
                if item is _DONE:
                    continue
                if isinstance(item, BaseException):
                    raise item
                number += 1
                records, last_id = item
                self._slots.release()
                yield Page(number, records, last_id, self.count)
                del records, item  # keep nothing of a page the caller has moved past
        finally:
            self.cancel.set()

    def _busy(self) -> bool:
        with self._ids.lock:
            return self._running > 0 or not self._out.empty()

    # --- the threads ------------------------------------------------------------------------

    def _start(self, target: Callable[..., None], *args: Any) -> None:
        with self._ids.lock:
            self._running += 1
            name = f"ploomes-read-{self._running}"
        threading.Thread(target=self._guard, args=(target, *args), daemon=True, name=name).start()

    def _guard(self, target: Callable[..., None], *args: Any) -> None:
        try:
            target(*args)
        except ReadCancelled:
            pass
        except BaseException as exc:  # noqa: BLE001 (handed to the caller, who raises it)
            self.cancel.set()
            self._out.put(exc)
        finally:
            with self._ids.lock:
                self._running -= 1
            self._out.put(_DONE)

    def _get(self, params: Mapping[str, str]) -> tuple[Records, int | None]:
        """One request's records and ``@odata.count``, once a page may be held (``max_in_flight`` ahead
        of the caller; the slot is the page's until the caller takes it, or :meth:`_hand` frees it)."""
        while not self._slots.acquire(timeout=0.2):
            if self.cancel.is_set():
                raise ReadCancelled("read cancelled")
        try:
            while True:
                if self.cancel.is_set():
                    raise ReadCancelled("read cancelled")
                try:
                    payload = self._fetch(params, self.cancel)
                    break
                except PloomesRequestError as exc:
                    if not self._shrink(int(params.get("$top", "0")), exc):
                        raise
                    params = {**params, "$top": str(self._page_size)}
        except BaseException:
            self._slots.release()
            raise
        latency = self._latency()
        if latency is not None:
            with self._ids.lock:
                self._answers += 1
                self._answer_seconds += latency
        return payload["value"], odata_count(payload)

    def _shrink(self, asked: int, exc: PloomesRequestError) -> bool:
        """After a page of ``asked`` records timed out: whether to ask again with smaller pages (every
        range of the read from now on, at half the size that failed, down to ``min_page_size``)."""
        if self._min_page_size is None or asked <= self._min_page_size or not timed_out(exc):
            return False
        with self._ids.lock:
            smaller = max(self._min_page_size, asked // 2)
            if smaller < self._page_size:
                self._page_size = self._ids.page_size = smaller
                for paginator in self._ids.ranges:
                    paginator.page_size = smaller
                log.warning("A page of %s records with their lines failed (%s): reading on with pages of %s "
                            "(the floor is %s; expanded_page_size of the connection sets the first size)",
                            asked, exc.cause, smaller, self._min_page_size)
        return True

    def _hand(self, records: Records, last_id: int | None) -> None:
        """Give a page to the caller; an empty one frees its slot."""
        if records:
            self._out.put((records, last_id))
        else:
            self._slots.release()

    def _read_range(self, paginator: KeysetPaginator | None) -> None:
        """Read a range to its end, then the upper half of the range with the most left, and so on."""
        while paginator is not None:
            while paginator.has_next_page:
                params = dict(self._params)
                paginator.init_request(params, count=paginator.pages == 0)  # a range's count can end it
                records, count = self._get(params)
                self._hand(self._ids.take_page(paginator, records, count), paginator.last_key)
                self._grow()
            paginator = None if self.cancel.is_set() else self._ids.steal()

    def _grow(self) -> None:
        """One range more, when the answers so far show that the ranges being read are too few to
        hold the rate (the first cut knew one answer's latency only)."""
        with self._ids.lock:
            reading = self._running  # threads reading (one between two ranges steals its next itself)
        if reading >= self._ranges_wanted(None) or self.cancel.is_set():
            return
        stolen = self._ids.steal()
        if stolen is not None:
            log.info("Answers take %.2f s on average: reading %s Id ranges side by side", self._mean_latency(),
                     reading + 1)
            self._start(self._read_range, stolen)

    def _read_first(self) -> None:
        """Page 1 of the whole read; then, for a large read, cut the rest into ranges."""
        first = self._first
        params = dict(self._params)
        first.init_request(params)
        records, self.count = self._get(params)
        kept = self._ids.take_page(first, records, self.count)
        first_id = kept[0][KEY] if kept and type(kept[0].get(KEY)) is int else None
        self._hand(kept, first.last_key)
        with self._ids.lock:
            self._first_answered = True
            top_asked = self._top_asked
        if not first.has_next_page:
            return
        if self.count is None and first.upto is None and not top_asked and not self.bounded_by_id(first):
            return  # page 1 held the highest Id: the read ended there (the highest page, when asked, bounds it)
        left = None if self.count is None else self.count - first.received
        if top_asked and left is not None and left < 2 * self._page_size:
            # what is left fits in the highest page and one more: wait for its bound rather than read into it
            self._wait_for(self._top_done)
        elif self._max_in_flight > 1 and first.received >= self._page_size and first_id is not None \
                and first.after is not None:  # a short page 1 says nothing about what is left
            self._ids.density = first.received / max(1, first.after - first_id + 1)
            if self._ids.max_id is None and left is not None:
                self._ids.max_id = first.after + math.ceil(left / self._ids.density)
            if left is not None and self.by_position:
                self._cut_by_position(first, left, below_top=top_asked)
            else:
                if top_asked:  # the highest page bounds the read: no probe needed once it is used
                    self._wait_for(self._top_done)
                    self._ids.max_id = first.upto if first.upto is not None else self._ids.max_id
                self._cut_by_id(first, left)
        self._read_range(first)

    def bounded_by_id(self, first: KeysetPaginator) -> bool:
        """With no count to bound the read, bound it by the list's highest Id now (one request): an
        API that ignored the Id bounds and served new Ids for ever is stopped at it; what is created
        meanwhile is the next read's. False when page 1 already holds the highest Id (nothing left)."""
        highest = self._highest_id()
        with self._ids.lock:
            if highest is None or first.after is None or highest <= first.after:
                first.close()
                self._ids.active = [r for r in self._ids.active if r is not first]
                return False
            first.upto = self._ids.max_id = highest
        return True

    def _wait_for(self, event: threading.Event) -> None:
        while not event.wait(0.2):
            if self.cancel.is_set():
                raise ReadCancelled("read cancelled")

    def _read_top(self) -> None:
        """The list's highest page, when page 1 has not answered one turn of the rate after it left."""
        try:
            if self.cancel.wait(self._interval):
                raise ReadCancelled("read cancelled")
            with self._ids.lock:
                if self._first_answered:
                    return
                self._top_asked = True
            params = {**self._params, "$orderby": f"{KEY} desc", "$top": str(self._page_size)}
            try:
                records, _ = self._get(params)
            except PloomesBadRequestError as exc:
                log.warning("Ploomes refused the highest page (%s): reading on without it", exc)
                return
            if len(records) < 2 or not _in_id_order(records[::-1]):
                log.info("The highest page came in %s records not in descending Id order: reading on without it",
                         len(records))
                self._slots.release()
                return
            taken, kept = self._ids.take_over(records[::-1], follow=False)
            self._hand(kept, None if taken is None else taken.last_key)
        finally:
            self._top_done.set()

    def _read_at(self, after: int, offset: int) -> None:
        """A range that starts at position ``offset`` past Id ``after``: its first page, then the rest."""
        params = {**self._params, "$orderby": KEY, "$top": str(self._page_size), "$skip": str(offset),
                  "$filter": id_range_filter(self._base_filter, after, None) or ""}
        try:
            records, _ = self._get(params)
        except PloomesBadRequestError as exc:  # an API that refuses offsets: the ranges below read its records
            log.warning("Ploomes refused the page at position %s (%s): the ranges below read its records",
                        offset, exc)
            self._read_range(self._ids.steal())
            return
        if not _in_id_order(records):
            ids = [record.get(KEY) if isinstance(record, Mapping) else None for record in records[:5]]
            raise PloomesPagingError(
                f"The page at position {offset} past Id {after} is not in ascending {KEY} order of integer "
                f"Ids ({ids}...): the API ignored $orderby, and reading on could skip records."
            )
        taken, kept = self._ids.take_over(records, follow=True) if records else (None, [])
        self._hand(kept, None if taken is None else taken.last_key)
        self._read_range(taken if taken is not None else self._ids.steal())  # a range taken over goes on

    def _ranges_wanted(self, pages: int | None) -> int:
        """Ranges to read side by side: enough requests in flight to hold the rate at the latency seen
        (a range has one at a time), each range worth a few pages, at most ``max_in_flight``."""
        latency = self._mean_latency()
        wanted = self._max_in_flight
        if self._interval > 0 and latency is not None:  # a range starts its next request an answer later
            wanted = min(wanted, math.ceil(LATENCY_MARGIN * latency / self._interval))
        if pages is not None:
            wanted = min(wanted, pages // MIN_PAGES_PER_RANGE)
        return max(1, wanted)

    def _mean_latency(self) -> float | None:
        """The mean time this read's answers took so far (None before the first)."""
        with self._ids.lock:
            return self._answer_seconds / self._answers if self._answers else None

    def _cut_by_position(self, first: KeysetPaginator, left: int, *, below_top: bool) -> None:
        """Cut the ``left`` records past page 1 (less the highest page when ``below_top``) into ranges
        that start at offsets; ``first`` goes on with the lowest."""
        assert first.after is not None
        size = self._ids.full_page or self._page_size
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
        for offset in offsets:
            self._start(self._read_at, first.after, offset)

    def _cut_by_id(self, first: KeysetPaginator, left: int | None) -> None:
        """Cut ``(first.after, highest Id]`` into ranges of about equal width; ``first`` keeps the lowest
        (the highest one is open: what lies past the estimate is read there)."""
        density = self._ids.density
        assert density is not None and first.after is not None
        if self._ids.max_id is None and self._ranges_wanted(None) > 1:
            try:
                self._ids.max_id = self._highest_id()
            except PloomesError as exc:  # read on unsplit; the same error, if lasting, fails the read
                log.info("Could not learn the highest Id (%s): reading without splitting", exc)
        low, high = first.after, self._ids.max_id
        if high is None or high <= low:
            return
        pages = math.ceil((left if left is not None else (high - low) * density) / self._page_size)
        ranges = self._ranges_wanted(pages)
        if ranges < 2:
            return
        width = (high - low) / ranges
        made = self._ids.split(first, [low + round(width * i) for i in range(1, ranges)])
        log.info("Reading the rest in %s Id ranges side by side (Ids %s..%s, about %s pages)", len(made) + 1, low,
                 high, pages)
        for paginator in made:
            self._start(self._read_range, paginator)

    def _highest_id(self) -> int | None:
        """The read's highest Id now (``$orderby=Id desc&$top=1``), or None."""
        params = {key: value for key, value in self._params.items() if key not in ("$select", "$expand")}
        params.update({"$orderby": f"{KEY} desc", "$top": "1", "$select": KEY})
        if self._base_filter:
            params["$filter"] = self._base_filter
        records = self._fetch(params, self.cancel).get("value") or []
        return records[0][KEY] if records and type(records[0].get(KEY)) is int else None


class Client(Protocol):
    """What a read needs of the hook (:class:`~ploomes_sync.hooks.ploomes.PloomesHook`)."""

    stats: RequestStats

    @property
    def options(self) -> PloomesOptions: ...

    def fetch(self, endpoint: str, params: Mapping[str, str], cancel: threading.Event | None = None,
              clock: ReadClock | None = None, max_attempts: int | None = None) -> dict[str, Any]: ...


def read_pages(
    client: Client,
    endpoint: str,
    *,
    filter: str | None = None,
    select: str | Sequence[str] | None = None,
    expand: str | Sequence[str] | None = None,
    after: int | None = None,
    upto: int | None = None,
    max_in_flight: int | None = None,
    clock: ReadClock | None = None,
    heavy: bool = False,
    expected: int | None = None,
) -> Iterator[Page]:
    """Every record of ``endpoint`` matching ``filter`` (with Id in ``(after, upto]``), page by page,
    read through ``client`` (the hook) in Id ranges side by side.

    ``select`` gets ``Id`` added when missing. Nothing is requested until the first page is asked
    for. Pages arrive in the order they are read, not in Id order. The answers' Dates go to
    ``clock``. A ``heavy`` read (each record's lines expanded) asks for ``expanded_page_size``
    records a page, and for half as many after a page that timed out twice (a 5xx, or our
    timeout), down to ``MIN_EXPANDED_PAGE_SIZE``; other failures keep their retries.

    Bounded: past ``READ_CEILING_FACTOR`` times what Ploomes counted for the read (without a count,
    ``expected``: what the caller knows of it, such as the warehouse's rows) plus
    ``READ_CEILING_MARGIN`` records, it fails with :class:`PloomesPagingError`; with neither, it
    reads up to the list's highest Id when it began.
    """
    options, stats, name = client.options, client.stats, endpoint.strip("/")
    floor = MIN_EXPANDED_PAGE_SIZE if heavy else None

    def get(query: Mapping[str, str], cancel: threading.Event) -> dict[str, Any]:
        if floor is None or int(query.get("$top", "0")) <= floor:
            return client.fetch(name, query, cancel, clock)
        try:  # a heavy page: two attempts, then the reader asks for smaller pages if it timed out
            return client.fetch(name, query, cancel, clock, max_attempts=2)
        except PloomesRequestError as exc:
            left = options.max_attempts - exc.attempts
            if timed_out(exc) or left < 1:
                raise
            return client.fetch(name, query, cancel, clock, max_attempts=left)  # any other failure: its retries

    reader = PageReader(
        get, params=query_options(select, expand),
        page_size=options.expanded_page_size if heavy else options.page_size, min_page_size=floor,
        base_filter=filter, after=after, upto=upto, max_in_flight=max_in_flight or options.max_in_flight,
        interval=60.0 / options.requests_per_minute, latency=lambda: stats.last_latency_seconds,
    )
    requests_before, throttled_before, total, pages = stats.requests, stats.throttled, 0, 0
    for page in reader:
        total += len(page.records)
        pages += 1
        basis = reader.count if reader.count is not None else expected
        if basis is not None and total > READ_CEILING_FACTOR * basis + READ_CEILING_MARGIN:
            raise PloomesPagingError(
                f"{name}: the read passed {total} records, more than {READ_CEILING_FACTOR} times the {basis} "
                f"{'Ploomes counted for it' if reader.count is not None else 'the warehouse holds'} plus "
                f"{READ_CEILING_MARGIN}: the API is not honouring the read's Id bounds (or served the same records "
                "under new Ids). Nothing of this read was loaded; if Ploomes really holds that many more records, "
                "run again: the next read counts them anew.")
        stats.add(pages=1, records=len(page.records))
        if page.number % 10 == 1 or reader.count is not None and total >= reader.count:
            log.info("%s: page %s, %s records so far%s; %s requests, %s throttled (429)", name, page.number, total,
                     f" of {reader.count}" if reader.count is not None else "", stats.requests - requests_before,
                     stats.throttled - throttled_before)
        yield page
    log.info("%s: read %s records in %s pages from %s Id ranges with %s requests (%s throttled)", name, total,
             pages, reader.ranges, stats.requests - requests_before, stats.throttled - throttled_before)

"""Reading a stream from Ploomes into its staging: typed rows, rejects set aside, the read's clocks.

The extracts, the listings and the webhook applier all read through :func:`read_into_stage`; a
page read some other way (a listing's counted probe) is staged by :func:`stage_pages`; records
named by Id (a confirming read, a repair, a webhook's records) by :func:`read_ids`.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import psycopg

from ploomes_sync import warehouse
from ploomes_sync.api.errors import PloomesError
from ploomes_sync.api.reader import read_pages
from ploomes_sync.errors import stream_endpoint
from ploomes_sync.hooks.ploomes import PloomesHook, ReadClock
from ploomes_sync.records import FieldSpec
from ploomes_sync.streams import DEFAULT_CONTEXT, ReadContext, Stream, fields

log = logging.getLogger(__name__)

# The Date of an answer has whole seconds, and the page it carries was read just before it was
# sent: a read is taken to have begun this much before its first answer's Date (less the time
# that answer took, see ReadClock.asked_at).
CLOCK_MARGIN = timedelta(seconds=2)


class AccountFields(Mapping[str, FieldSpec]):
    """The account's custom fields by key: those the warehouse knows (``public.custom_fields``), and,
    the first time a record carries a key it does not know (the first run, or a field created since
    the last read of ``/Fields``), those ``/Fields`` lists now: one request, once. So a value is typed
    by its field's definition even before the vocabulary's own stream has loaded it."""

    def __init__(self, known: Mapping[str, FieldSpec], hook: PloomesHook) -> None:
        self._fields, self._hook, self._asked = dict(known), hook, False

    def __getitem__(self, key: str) -> FieldSpec:
        if key not in self._fields and not self._asked:
            self._ask()
        return self._fields[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._fields)

    def __len__(self) -> int:
        return len(self._fields)

    def _ask(self) -> None:
        self._asked = True
        spec = fields()
        names = spec.column_names
        at = {name: names.index(name) for name in ("key", "native_type", "options_table_id", "multiple")}
        try:
            for page in read_pages(self._hook, spec.endpoint, filter=spec.base_filter, select=list(spec.select),
                                   expand=spec.expand_option, expected=len(self._fields)):
                for record in page.records:
                    row = spec.row(record)
                    if type(row) is tuple and row[at["key"]]:
                        self._fields[row[at["key"]]] = FieldSpec(row[at["native_type"]],
                                                                 row[at["options_table_id"]] is not None,
                                                                 bool(row[at["multiple"]]))
        except PloomesError as exc:  # the values are typed by what they carry until /Fields answers
            log.warning("Could not read /Fields for a custom field the warehouse does not know yet (%s): its "
                        "values are typed by what they carry", exc)


def account_context(conn: psycopg.Connection, hook: PloomesHook, client_tag_id: int) -> ReadContext:
    """What records are read with: the client tag, and the account's fields (:class:`AccountFields`)."""
    stored = warehouse.read_context(conn, client_tag_id)
    return ReadContext(client_tag_id, AccountFields(stored.fields, hook))


def stage_pages(stream: Stream, run_id: str, pages: Iterable[Sequence[dict[str, Any]]], *,
                conn: psycopg.Connection, reject_conn: psycopg.Connection,
                context: ReadContext = DEFAULT_CONTEXT) -> dict[str, Any]:
    """Stage ``pages`` of ``stream``'s records: rows to its staging (``conn``: COPY, committed every few
    pages), the lines its records carry to their own and rejects to ``ploomes_sync.rejects`` with
    their reason (``reject_conn``, page by page). Returns the counts, and ``latest``: the newest
    LastUpdateDate staged."""
    counts: dict[str, Any] = {"fetched": 0, "pages": 0, "rejected": 0, "rejected_without_id": 0, "lines": 0,
                              "latest": None}
    updated_at = stream.column_names.index("updated_at")
    lines = stream.lines

    def rows() -> Iterator[tuple]:
        for number, page in enumerate(pages, start=1):
            rejected = []
            line_rows: list[tuple] = []
            for record in page:
                row = stream.row(record, context) if lines is None else stream.row_and_lines(record, context)
                if type(row) is tuple:
                    if lines is not None:
                        row, own = row
                        line_rows += [(row[updated_at], *line) for line in own]
                    if counts["latest"] is None or row[updated_at] > counts["latest"]:
                        counts["latest"] = row[updated_at]
                    yield row
                else:
                    rejected.append(row)
            if line_rows:  # on the side connection: this one is in the middle of the records' COPY
                counts["lines"] += warehouse.stage_lines(reject_conn, stream, run_id, line_rows)
            counts["fetched"] += len(page)
            counts["pages"] += 1
            if rejected:
                counts["rejected"] += len(rejected)
                counts["rejected_without_id"] += sum(1 for r in rejected if not (r.record_id or "").isdigit())
                warehouse.stage_rejects(reject_conn, run_id, stream.name, rejected)
                log.warning("%s: %s records of page %s set aside: %s", stream.name, len(rejected), number,
                            rejected[0].reason)

    counts["staged"] = warehouse.stage_rows(conn, stream, run_id, rows())
    return counts


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
    expected: int | None = None,
    context: ReadContext = DEFAULT_CONTEXT,
) -> dict[str, Any]:
    """Read ``stream``'s records matching ``filter_`` (Id in ``(after, upto]``) into its staging
    (:func:`stage_pages`; a listing is a stream of its own), committed every few pages.

    Returns the counts and ``read_started_at``: Ploomes' clock when the read began (its first
    answer's Date less that answer's time and a margin; else the latest LastUpdateDate read; else
    ``fallback_started_at``), and ``read_ended_at`` (see :func:`read_ended_at`). Several reads that
    make one (a listing's ranges) share a ``clock``. The stream's own filter (``base_filter``) goes
    with ``filter_``; ``context`` is what its records are read with. ``announced``: how many records
    Ploomes counted for the read (None when it did not say); ``expected`` bounds a read without a count
    (:func:`~ploomes_sync.api.reader.read_pages`). A refused endpoint raises
    :class:`~ploomes_sync.errors.StreamForbidden`.
    """
    with stream_endpoint(stream.name):
        return _read_into_stage(stream, run_id, hook=hook, conn=conn, reject_conn=reject_conn, filter_=filter_,
                                after=after, upto=upto, fallback_started_at=fallback_started_at, clock=clock,
                                expected=expected, context=context)


def _read_into_stage(stream: Stream, run_id: str, *, hook: PloomesHook, conn: psycopg.Connection,
                     reject_conn: psycopg.Connection, filter_: str | None, after: int | None, upto: int | None,
                     fallback_started_at: datetime | None, clock: ReadClock | None, expected: int | None,
                     context: ReadContext) -> dict[str, Any]:
    clock = clock or ReadClock()
    requests_before, throttled_before = hook.stats.requests, hook.stats.throttled
    announced: list[int | None] = [None]

    def records() -> Iterator[list[dict[str, Any]]]:
        for page in pages:
            announced[0] = page.count
            yield page.records

    if stream.base_filter:
        filter_ = stream.base_filter if filter_ is None else f"({stream.base_filter}) and ({filter_})"
    pages = read_pages(hook, stream.endpoint, filter=filter_, select=list(stream.select),
                       expand=stream.expand_option, after=after, upto=upto, clock=clock, heavy=stream.lines is not None,
                       expected=expected, max_in_flight=1 if stream.whole else None)  # a small list: one page
    counts = stage_pages(stream, run_id, records(), conn=conn, reject_conn=reject_conn, context=context)
    counts["announced"] = announced[0]
    latest = counts.pop("latest")
    counts["api_requests"] = hook.stats.requests - requests_before
    counts["throttled"] = hook.stats.throttled - throttled_before
    counts["read_ended_at"] = read_ended_at(clock)
    if clock.asked_at is not None:
        counts["read_started_at"] = clock.asked_at - CLOCK_MARGIN
    else:
        counts["read_started_at"] = latest if latest is not None else fallback_started_at
    return counts


def read_ended_at(clock: ReadClock) -> datetime | None:
    """Ploomes' clock when the read's latest answer left, rounded up: no record read was changed later,
    so a LastUpdateDate after it is a date ahead of Ploomes' clock. None without Date headers."""
    return None if clock.answered_at is None else clock.answered_at + CLOCK_MARGIN


IDS_PER_REQUEST = 40  # keeps the URL of a read by Id well under 2,000 characters


def ids_filter(ids: Sequence[int]) -> str:
    """The ``$filter`` that reads exactly these records."""
    return " or ".join(f"Id eq {int(record_id)}" for record_id in ids)


@dataclass(frozen=True)
class ByIds:
    """What a read of records by Id found: which were there (staged), set aside, or not there."""

    asked: frozenset[int]
    present: frozenset[int]
    rejected: frozenset[int]
    counts: Counter
    read_started_at: datetime | None
    read_ended_at: datetime | None

    @property
    def absent(self) -> frozenset[int]:
        """The records Ploomes did not show."""
        return self.asked - self.present - self.rejected


def read_ids(stream: Stream, ids: Iterable[int], stage_id: str, *, hook: PloomesHook, conn: psycopg.Connection,
             reject_conn: psycopg.Connection, started_wh: datetime, context: ReadContext = DEFAULT_CONTEXT
             ) -> ByIds:
    """Read ``ids`` of ``stream`` (``Id eq 1 or Id eq 2 ...``, ``IDS_PER_REQUEST`` a request) into its
    staging under ``stage_id``, registered (``started_wh``: the warehouse's clock when it began), so
    that the stream's merge takes them in; which were there."""
    wanted = sorted(set(ids))
    warehouse.clear_stage(conn, stream, stage_id)
    counts: Counter = Counter()
    clock = ReadClock()
    read_started_at = None
    for start in range(0, len(wanted), IDS_PER_REQUEST):
        chunk = wanted[start:start + IDS_PER_REQUEST]
        read = read_into_stage(stream, stage_id, hook=hook, conn=conn, reject_conn=reject_conn,
                               filter_=ids_filter(chunk), after=chunk[0] - 1, upto=chunk[-1],
                               fallback_started_at=started_wh, clock=clock, expected=len(chunk), context=context)
        read_started_at = read_started_at or read["read_started_at"]
        counts.update({key: read[key] for key in ("fetched", "staged", "rejected", "rejected_without_id",
                                                   "api_requests", "throttled")})
    ended = read_ended_at(clock)
    warehouse.register_stage(conn, stream.name, stage_id, counts["staged"], read_started_at=read_started_at,
                             read_started_wh=started_wh, read_ended_at=ended)
    present = frozenset(warehouse.staged_ids(conn, stream, stage_id))
    rejected = frozenset(int(i) for i in warehouse.rejected_ids(conn, stream.name, stage_id)
                         if i.isascii() and i.isdigit())
    return ByIds(frozenset(wanted), present, rejected, counts, read_started_at, ended)

"""Keyset paging over one Id range of a Ploomes list: ``$orderby=Id`` and ``Id gt <last Id>``.

Never paging by ``$skip``: offsets over a list that changes while it is read (records updated out
of the filter's window, records deleted) skip records; a keyset does not. A read may be cut into
disjoint Id ranges ``(after, upto]`` read side by side (see :mod:`ploomes_sync.api.reader`); each
is still keyset-paged, so no record that exists for the whole read is lost or read twice.

A range ends on whichever comes first:

- an empty page;
- its upper bound read;
- as many records as ``@odata.count`` announced for the range on its first page (records created
  during the read are left to the next read). Under a filter a record may enter the range during
  the read (one updated into a date window) and take a place the count gave to one still unread,
  so there the count ends a range only on a page shorter than asked for (which had room for both);
- a page shorter than ``full_page``, the size of a page the API was seen to fill. The API may cut
  ``$top`` silently, so a short page alone proves nothing; a page shorter than one it did fill does.
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ploomes_sync.api.errors import PloomesPagingError
from ploomes_sync.settings import MAX_PAGE_SIZE

KEY = "Id"


def select_with_key(select: str | Sequence[str] | None, key: str = KEY) -> list[str] | None:
    """A new ``$select`` list that includes ``key`` (paging needs it); None selects everything."""
    if select is None:
        return None
    names = [name.strip() for name in (select.split(",") if isinstance(select, str) else select)]
    names = [name for name in names if name]
    if not names:
        return None
    return names if key in names else [key, *names]


def query_options(select: str | Sequence[str] | None, expand: str | Sequence[str] | None) -> dict[str, str]:
    """The ``$select`` (with the key added) and ``$expand`` of a read, as query parameters."""
    params: dict[str, str] = {}
    columns = select_with_key(select)
    if columns:
        params["$select"] = ",".join(columns)
    if expand:
        params["$expand"] = expand if isinstance(expand, str) else ",".join(expand)
    return params


def id_range_filter(base: str | None, after: int | None, upto: int | None, key: str = KEY) -> str | None:
    """``(<base>) and Id gt <after> and Id le <upto>``, leaving out what is None."""
    parts = [f"({base})" if base and (after is not None or upto is not None) else base or ""]
    if after is not None:
        parts.append(f"{key} gt {after}")
    if upto is not None:
        parts.append(f"{key} le {upto}")
    text = " and ".join(part for part in parts if part)
    return text or None


@dataclass
class KeysetPaginator:
    """Paging state of one Id range ``(after, upto]``: the last Id seen and whether it has ended."""

    page_size: int = MAX_PAGE_SIZE
    base_filter: str | None = None
    after: int | None = None
    upto: int | None = None
    key: str = KEY
    pages: int = field(default=0, init=False)
    received: int = field(default=0, init=False)
    expected: int | None = field(default=None, init=False)  # @odata.count of the range
    last_key: int | None = field(default=None, init=False)  # the last Id read
    start: int | None = field(default=None, init=False)  # where the range began: it holds (start, upto]
    _ended: bool = field(default=False, init=False, repr=False)

    def __post_init__(self) -> None:
        if not 1 <= self.page_size <= MAX_PAGE_SIZE:
            raise ValueError(f"page_size must be between 1 and {MAX_PAGE_SIZE}, got {self.page_size!r}")
        if self.after is not None and self.upto is not None and self.upto <= self.after:
            raise ValueError(f"empty range ({self.after}, {self.upto}]")
        self.start = self.after

    def holds(self, key: int) -> bool:
        """Whether ``key`` lies in the range ``(start, upto]``."""
        return (self.start is None or key > self.start) and (self.upto is None or key <= self.upto)

    def close(self) -> None:
        """End the range: nothing more is asked for it."""
        self._ended = True

    @property
    def has_next_page(self) -> bool:
        """False once the range has ended (see the module docstring)."""
        return not self._ended

    def init_request(self, params: MutableMapping[str, str], *, count: bool = True) -> None:
        """Ordering, page size, the range's filter and (for its first page) ``$count=true``."""
        params.pop("$skip", None)
        params["$orderby"] = self.key
        params["$top"] = str(self.page_size)
        if count:
            params["$count"] = "true"
        self.update_request(params)

    def update_state(self, records: Sequence[Mapping[str, Any]], *, count: int | None = None,
                     full_page: int | None = None) -> None:
        """Take in a page (its records, and ``@odata.count`` when it came with one)."""
        if count is not None and self.expected is None:
            self.expected = count
        if not records:
            self._ended = True
            return
        previous = self.after
        for position, record in enumerate(records):
            value = record.get(self.key) if isinstance(record, Mapping) else None
            if type(value) is not int:
                raise PloomesPagingError(
                    f"Record {position} of page {self.pages + 1} has {self.key}={value!r}: keyset paging "
                    f"needs an integer {self.key} in every record."
                )
            if (previous is not None and value <= previous) or (self.upto is not None and value > self.upto):
                raise PloomesPagingError(
                    f"Page {self.pages + 1} is not in ascending {self.key} order past {previous} within the "
                    f"range ({self.after}, {self.upto}] (record {position} has {self.key}={value}): the API "
                    f"ignored $orderby or the '{self.key}' bounds, and reading on could loop or skip records."
                )
            previous = value
        self.after = self.last_key = previous
        self.pages += 1
        self.received += len(records)
        short = len(records) < min(full_page or self.page_size, self.page_size)
        if (self.upto is not None and previous == self.upto) \
                or (self.expected is not None and self.received >= self.expected and (not self.base_filter or short)) \
                or (full_page is not None and short):
            self._ended = True

    def update_request(self, params: MutableMapping[str, str]) -> None:
        """Point the filter past the last Id seen (``$count`` is asked on the first page only)."""
        if self.pages:
            params.pop("$count", None)
        value = id_range_filter(self.base_filter, self.after, self.upto, self.key)
        if value is None:
            params.pop("$filter", None)
        else:
            params["$filter"] = value

    def split(self, at: int) -> KeysetPaginator:
        """Hand ``(at, upto]`` to a new paginator and keep ``(after, at]``; ``at`` must lie inside."""
        if (self.after is not None and at <= self.after) or (self.upto is not None and at >= self.upto):
            raise ValueError(f"{at} does not lie inside ({self.after}, {self.upto})")
        return self._cut(at)

    def hand_over(self, at: int) -> KeysetPaginator:
        """Like :meth:`split`, but ``at`` may be the last Id read: the range then ends there."""
        if self.after is not None and at == self.after and (self.upto is None or at < self.upto):
            other = self._cut(at)
            self.close()
            return other
        return self.split(at)

    def _cut(self, at: int) -> KeysetPaginator:
        other = KeysetPaginator(self.page_size, self.base_filter, after=at, upto=self.upto, key=self.key)
        self.upto = at
        self.expected = None  # the count was of the whole range
        return other

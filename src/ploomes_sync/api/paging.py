"""Keyset paging over a Ploomes list: ``$orderby=Id`` and ``(<caller's filter>) and Id gt <last Id>``.

Never ``$skip``: offset paging over a list that changes while it is read (records updated out of
the filter's window, records deleted) skips records; a keyset does not. The end of the list is the
first EMPTY page, never a short one: the API may cut ``$top`` silently, so a short page proves
nothing (one extra request is the price of correctness).
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


@dataclass
class KeysetPaginator:
    """Paging state of one read: the last key seen, and whether an empty page has ended it."""

    page_size: int = MAX_PAGE_SIZE
    base_filter: str | None = None
    key: str = KEY
    last_key: int | None = None
    pages: int = field(default=0, init=False)
    _exhausted: bool = field(default=False, init=False, repr=False)

    def __post_init__(self) -> None:
        if not 1 <= self.page_size <= MAX_PAGE_SIZE:
            raise ValueError(f"page_size must be between 1 and {MAX_PAGE_SIZE}, got {self.page_size!r}")

    @property
    def has_next_page(self) -> bool:
        """False once a page came back empty; the only way a read ends."""
        return not self._exhausted

    def init_request(self, params: MutableMapping[str, str]) -> None:
        """Set ordering, page size and the first page's filter."""
        params.pop("$skip", None)
        params["$orderby"] = self.key
        params["$top"] = str(self.page_size)
        self.update_request(params)

    def update_state(self, records: Sequence[Mapping[str, Any]]) -> None:
        """Take in a page: an empty one ends the read; else its keys must ascend past the last one."""
        if not records:
            self._exhausted = True
            return
        previous = self.last_key
        for position, record in enumerate(records):
            value = record.get(self.key) if isinstance(record, Mapping) else None
            if type(value) is not int:
                raise PloomesPagingError(
                    f"Record {position} of page {self.pages + 1} has {self.key}={value!r}: keyset paging "
                    f"needs an integer {self.key} in every record."
                )
            if previous is not None and value <= previous:
                raise PloomesPagingError(
                    f"Page {self.pages + 1} is not in ascending {self.key} order past {previous} "
                    f"(record {position} has {self.key}={value}): the API ignored $orderby or the "
                    f"'{self.key} gt' bound, and reading on could loop or skip records."
                )
            previous = value
        self.last_key = previous
        self.pages += 1

    def update_request(self, params: MutableMapping[str, str]) -> None:
        """Point the filter past the last key seen."""
        base = (self.base_filter or "").strip()
        bound = f"{self.key} gt {self.last_key}" if self.last_key is not None else ""
        if base and bound:
            params["$filter"] = f"({base}) and {bound}"
        elif base or bound:
            params["$filter"] = base or bound
        else:
            params.pop("$filter", None)

"""Records of one entity set, kept sorted by Id, with their JSON cached, and list queries.

Records with an integer Id live in Id order (so keyset pages bisect to their start); records
stored raw without an integer Id are kept after them, in arrival order. Each record's JSON is
serialized once, on first use, and forgotten when the record changes.
"""

from __future__ import annotations

import json
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from .dates import parse_instant
from .odata import LinesExpand, Query, TagsExpand
from .schema import DATETIME, EntitySchema

Record = dict[str, Any]

_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def to_json(value: Any) -> bytes:
    """Compact UTF-8 JSON, non-ASCII characters kept as they are."""
    return _ENCODER.encode(value).encode("utf-8")


def integer_id(record: Record) -> int | None:
    """The record's Id when it is a real integer (not a bool), else None."""
    value = record.get("Id")
    return value if type(value) is int else None


class _Row:
    """A stored record and its cached JSON fragments."""

    __slots__ = ("record", "plain", "full")

    def __init__(self, record: Record) -> None:
        self.record = record
        self.plain: bytes | None = None  # without expansions
        self.full: bytes | None = None  # with Tags($expand=Tag), for entities that have Tags


class Table:
    """The current records of one entity set."""

    def __init__(self, schema: EntitySchema, records: Iterable[Record] = (),
                 products: Callable[[Any], Record | None] | None = None,
                 custom: Callable[[Record], list[Record]] | None = None) -> None:
        self.schema = schema
        self._products = products  # a line's catalogue Product by its Id (orders and quotes)
        self._custom = custom  # a record's custom values as $expand=OtherProperties shows them
        self._ids: list[int] = []
        self._rows: list[_Row] = []
        self._tail: list[_Row] = []  # records without an integer Id
        for record in sorted(records, key=lambda r: r["Id"]):
            self._ids.append(record["Id"])
            self._rows.append(_Row(record))

    def __len__(self) -> int:
        return len(self._rows) + len(self._tail)

    # --- reading -------------------------------------------------------------------------

    def records(self) -> Iterator[Record]:
        """Every record: integer Ids in order, then the others."""
        for row in self._rows:
            yield row.record
        for row in self._tail:
            yield row.record

    def get(self, key: int | str) -> Record | None:
        """The record whose Id is ``key``; a raw record without an integer Id matches by its text."""
        row = self._find(key)
        return None if row is None else row[1].record

    def max_id(self) -> int:
        """The highest integer Id, 0 when there is none."""
        return self._ids[-1] if self._ids else 0

    def ids(self) -> list[int]:
        """Integer Ids in order (a copy)."""
        return list(self._ids)

    def _find(self, key: int | str) -> tuple[int, _Row] | None:
        if type(key) is int:
            index = bisect_left(self._ids, key)
            if index < len(self._ids) and self._ids[index] == key:
                return index, self._rows[index]
        text = str(key)
        for index, row in enumerate(self._tail):
            if str(row.record.get("Id")) == text:
                return -1 - index, row
        return None

    # --- writing -------------------------------------------------------------------------

    def insert(self, record: Record) -> None:
        """Store a new record; KeyError when its integer Id is taken."""
        key = integer_id(record)
        if key is None:
            self._tail.append(_Row(record))
            return
        index = bisect_left(self._ids, key)
        if index < len(self._ids) and self._ids[index] == key:
            raise KeyError(key)
        self._ids.insert(index, key)
        self._rows.insert(index, _Row(record))

    def replace(self, key: int | str, record: Record) -> None:
        """Put ``record`` in place of the record with Id ``key`` (same Id); KeyError if absent."""
        found = self._find(key)
        if found is None:
            raise KeyError(key)
        index, _ = found
        if index >= 0:
            self._rows[index] = _Row(record)
        else:
            self._tail[-1 - index] = _Row(record)

    def delete(self, key: int | str) -> Record:
        """Remove and return the record with Id ``key``; KeyError if absent."""
        found = self._find(key)
        if found is None:
            raise KeyError(key)
        index, row = found
        if index >= 0:
            del self._ids[index]
            del self._rows[index]
        else:
            del self._tail[-1 - index]
        return row.record

    # --- rendering -----------------------------------------------------------------------

    def truth(self, custom: bool = False) -> bytes:
        """Every record in full form (with Tags when the entity has them, its plain navigations, and with
        ``custom`` its custom values compact: ``{field key: value}``) as a JSON list."""
        full = TagsExpand(with_tag=True) if "Tags" in self.schema.navigations else None
        lines = LinesExpand() if self.schema.lines is not None else None
        custom = custom and "OtherProperties" in self.schema.navigations
        if not custom and not self.schema.plain:
            return b"[" + b",".join(self._render(row, None, full, False, lines) for row in self._all_rows()) + b"]"
        shown = []
        for row in self._all_rows():
            record = json.loads(self._render(row, None, full, False, lines, self.schema.plain))
            if custom:
                record["OtherProperties"] = row.record.get("OtherProperties") or {}
            shown.append(to_json(record))
        return b"[" + b",".join(shown) + b"]"

    def _all_rows(self) -> Iterator[_Row]:
        yield from self._rows
        yield from self._tail

    def _render(
        self, row: _Row, select: tuple[str, ...] | None, tags: TagsExpand | None, other: bool,
        lines: LinesExpand | None = None, plain: frozenset[str] = frozenset(),
    ) -> bytes:
        if plain:
            shaped = self._shaped(row.record, select, tags, other)
            shaped.update({name: row.record.get(name) for name in plain})
            return to_json(shaped)
        if lines is not None:
            shaped = self._shaped(row.record, select, tags, other)
            shaped["Products"] = [self._shape_line(line, lines) for line in row.record.get("Products") or ()
                                  if isinstance(line, dict)]
            return to_json(shaped)
        if select is None and not other:
            if tags is None:
                if row.plain is None:
                    row.plain = to_json(self._visible(row.record))
                return row.plain
            if tags.is_full:
                if row.full is None:
                    row.full = to_json(self._shaped(row.record, None, tags, False))
                return row.full
        return to_json(self._shaped(row.record, select, tags, other))

    def _visible(self, record: Record) -> Record:
        hidden = self.schema.hidden
        if not hidden or not any(name in record for name in hidden):
            return record
        return {key: value for key, value in record.items() if key not in hidden}

    def _shaped(
        self, record: Record, select: tuple[str, ...] | None, tags: TagsExpand | None, other: bool
    ) -> Record:
        if select is None:
            shaped = dict(self._visible(record))
        else:
            wanted = set(select)
            shaped = {key: value for key, value in record.items() if key in wanted}
        if tags is not None:
            stored = record.get("Tags")
            shaped["Tags"] = (
                [_shape_tag(entry, tags) for entry in stored if isinstance(entry, dict)]
                if isinstance(stored, list)
                else []
            )
        if other:
            shaped["OtherProperties"] = self._custom(record) if self._custom is not None else []
        return shaped

    def _shape_line(self, line: Record, lines: LinesExpand) -> Record:
        shaped = dict(line) if lines.select is None else {k: v for k, v in line.items() if k in lines.select}
        if lines.with_product:
            product = self._products(line.get("ProductId")) if self._products else None
            if product is not None and lines.product_select is not None:
                product = {k: v for k, v in product.items() if k in lines.product_select}
            shaped["Product"] = product
        return shaped

    # --- queries -------------------------------------------------------------------------

    def query(self, query: Query) -> tuple[list[bytes], int | None]:
        """The page of JSON fragments a list query returns, and the total count if asked."""
        if query.ordered_by_id and (query.has_id_bounds or not self._tail or not query.orderby):
            rows, count = self._scan_in_id_order(query)
        elif query.orderby == (("Id", True),) and (query.has_id_bounds or not self._tail):
            rows, count = self._scan_down_in_id_order(query)
        else:
            rows, count = self._sort_and_slice(query)
        tags, other, lines, plain = (query.expand.tags, query.expand.other_properties, query.expand.lines,
                                     query.expand.plain)
        return [self._render(row, query.select, tags, other, lines, plain) for row in rows], count

    def _id_span(self, query: Query) -> tuple[int, int]:
        """The positions ``[low, high)`` of the rows within the query's Id bounds."""
        low = 0 if query.id_min is None else bisect_left(self._ids, query.id_min)
        high = len(self._ids) if query.id_max is None else bisect_right(self._ids, query.id_max)
        return low, max(low, high)

    def _scan_in_id_order(self, query: Query) -> tuple[list[_Row], int | None]:
        """Keyset fast path: bisect to the Id bounds, then scan until the page is full."""
        low, high = self._id_span(query)
        tail = [] if query.has_id_bounds else self._tail
        predicate = query.residual if query.has_id_bounds else query.predicate
        wanted = query.skip + query.top
        if predicate is None:
            start = low + query.skip
            page = self._rows[start : min(high, low + wanted)] if start < high else []
            if len(page) < query.top:
                page += tail[max(0, start - high) : max(0, wanted - (high - low))]
            count = (high - low) + len(tail) if query.count else None
            return page[: query.top], count
        matched = 0
        page: list[_Row] = []
        skip, top, counting = query.skip, query.top, query.count
        if top == 0 and not counting:
            return page, None
        rows = self._rows
        for index in range(low, high):
            row = rows[index]
            if predicate(row.record):
                matched += 1
                if matched > skip and len(page) < top:
                    page.append(row)
                    if len(page) == top and not counting:
                        return page, None
        for row in tail:
            if predicate(row.record):
                matched += 1
                if matched > skip and len(page) < top:
                    page.append(row)
                    if len(page) == top and not counting:
                        return page, None
        return page, matched if counting else None

    def _scan_down_in_id_order(self, query: Query) -> tuple[list[_Row], int | None]:
        """``$orderby=Id desc`` (records without an Id aside): bisect to the bounds, scan downward."""
        low, high = self._id_span(query)
        predicate = query.residual if query.has_id_bounds else query.predicate
        page: list[_Row] = []
        matched = 0
        for index in range(high - 1, low - 1, -1):
            row = self._rows[index]
            if predicate is None or predicate(row.record):
                matched += 1
                if matched > query.skip and len(page) < query.top:
                    page.append(row)
                if len(page) >= query.top and not query.count:
                    break
        return page, matched if query.count else None

    def _sort_and_slice(self, query: Query) -> tuple[list[_Row], int | None]:
        """General path: filter everything, sort by every key (stable), then slice."""
        predicate = query.predicate
        rows = [row for row in self._all_rows() if predicate is None or predicate(row.record)]
        for name, descending in reversed(query.orderby):
            is_date = self.schema.properties.get(name) == DATETIME
            rows.sort(key=lambda row, n=name, d=is_date: _sort_key(row.record.get(n), d), reverse=descending)
        page = rows[query.skip : query.skip + query.top]
        return page, len(rows) if query.count else None


def _shape_tag(entry: Record, tags: TagsExpand) -> Record:
    shaped = {key: value for key, value in entry.items() if key != "Tag"}
    if tags.select is not None:
        shaped = {key: value for key, value in shaped.items() if key in tags.select}
    if tags.with_tag:
        tag = entry.get("Tag")
        if isinstance(tag, dict) and tags.tag_select is not None:
            tag = {key: value for key, value in tag.items() if key in tags.tag_select}
        shaped["Tag"] = tag
    return shaped


def _sort_key(value: Any, is_date: bool) -> tuple[int, Any]:
    """Total order over mixed values: null < bool < number < datetime < string < other."""
    if value is None:
        return (0, 0)
    if isinstance(value, bool):
        return (1, int(value))
    if isinstance(value, int | float):
        return (2, value)
    if isinstance(value, str):
        if is_date:
            instant = parse_instant(value)
            if instant is not None:
                return (3, instant)
        return (4, value)
    return (5, to_json(value))

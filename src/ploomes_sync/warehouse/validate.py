"""The check: a run's listing (what Ploomes holds) against ``public``, record by record.

Every record the listing covers falls in one class (``include/sql/validate/records.sql``, filled
from the stream's spec, says which and why): ``equal`` and ``differs`` are compared; the rest are
left out, each counted. The check passes only when nothing differs. For a stream with a year
column (deals: ``created_at``) the classes are counted per São Paulo year, with its amount (the
won revenue) on each side: the per-year table of the run history, the log and the failure e-mail
(a pandas DataFrame).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pandas as pd
import psycopg

from ploomes_sync.settings import BUSINESS_TIMEZONE
from ploomes_sync.streams import Stream, YearColumns
from ploomes_sync.warehouse.connection import fetchall, transaction
from ploomes_sync.warehouse.listing import Listing, confirm_id
from ploomes_sync.warehouse.staging import require_staged
from ploomes_sync.warehouse.statements import statement

log = logging.getLogger(__name__)

COMPARED = ("equal", "differs")
LEFT_OUT = ("rejected", "written_since", "archived_since", "changed_since")
LEFT_OUT_MEANING = {
    "rejected": "set aside by this run (the last good version stays)",
    "written_since": "written by another run after the listing began",
    "archived_since": "archived as gone by another run after the listing began",
    "changed_since": "changed in Ploomes after this run read them (the next run reads them)",
}


@dataclass(frozen=True)
class Validation:
    """What the check of one stream found: compared records, those that differ, those left out."""

    stream: str
    compared: int = 0
    differing: int = 0
    left_out: dict[str, int] = field(default_factory=dict)
    examples: list[int] = field(default_factory=list)  # ids of records that differ (a few)
    years: list[dict[str, Any]] = field(default_factory=list)  # streams with a year column: the per-year table
    differing_ids: list[int] = field(default_factory=list, repr=False)  # every record that differs

    @property
    def ok(self) -> bool:
        return self.differing == 0

    def summary(self) -> dict[str, Any]:
        """JSON-ready counts, for the run history."""
        return {"compared": self.compared, "differing": self.differing, "left_out": self.left_out,
                "examples": self.examples}

    def frame(self) -> pd.DataFrame:
        """The per-year table as a DataFrame (one row per year; diffs are warehouse minus Ploomes)."""
        return pd.DataFrame(self.years)

    def to_json(self) -> list[dict[str, Any]]:
        """JSON-safe per-year rows (decimals as strings), for ``run_history.year_table``."""
        return year_json(self.years)

    def format(self) -> str:
        """The per-year table (or the counts) as text, for logs and e-mails."""
        if self.years:
            text = format_years(self.years)
        elif self.compared or self.differing:
            text = f"{self.stream}: {self.compared} records compared, {self.differing} differ"
        else:
            text = f"{self.stream}: nothing to compare"
        left_out = [f"{count} {LEFT_OUT_MEANING[name]}" for name, count in self.left_out.items() if count]
        if left_out:
            text += "\nLeft out of the comparison: " + "; ".join(left_out) + "."
        if self.examples:
            text += f"\nDiffering {self.stream} (first ids): {', '.join(map(str, self.examples))}"
        return text


def _counts(rows: list[tuple[Any, ...]], listing: Listing) -> tuple[int, int, dict[str, int], list[int]]:
    compared = differing = 0
    left_out = dict.fromkeys(LEFT_OUT, 0)
    ids: list[int] = []
    for cls, deals, ids_of_class in rows:
        if cls in COMPARED:
            compared += deals
            if cls == "differs":
                differing += deals
                ids.extend(ids_of_class or [])
        else:
            left_out[cls] += deals
    # every record the listing set aside is left out, also those the warehouse never had
    left_out["rejected"] = max(left_out["rejected"], listing.rejected)
    return compared, differing, left_out, sorted(ids)


def _params(listing: Listing) -> dict[str, Any]:
    return {"run_id": listing.run_id, "stream": listing.stream, "reject_stream": listing.reject_stream,
            "confirm_id": confirm_id(listing.run_id),
            "started_wh": listing.started_wh, "read_started_at": listing.read_started_at,
            # a LastUpdateDate after the listing's read ended is ahead of Ploomes' clock, not a change
            "changed_until": listing.read_ended_at or datetime.max.replace(tzinfo=UTC),
            "created_from": listing.created_from, "created_to": listing.created_to, "tz": BUSINESS_TIMEZONE}


def _require_listing(conn: psycopg.Connection, stream: Stream, listing: Listing) -> None:
    require_staged(conn, stream if listing.source == "extract" else stream.listing(), listing.run_id)


def validate(conn: psycopg.Connection, stream: Stream, listing: Listing) -> Validation:
    """The classes of the stream's records, and per São Paulo year of its year column (deals:
    ``created_at``, with the won revenue on each side) when its spec has one."""
    with transaction(conn):
        _require_listing(conn, stream, listing)
        rows = fetchall(conn, statement("validate/records.sql", stream, listing=listing.staging), _params(listing))
    compared, differing, left_out, ids = _counts([(cls, int(count), ex) for _, cls, count, *_, ex in rows], listing)
    examples = ids[:10]
    result = Validation(stream.name, compared, differing, left_out, examples,
                        _year_table(rows, stream.year_columns) if stream.year_columns else [], ids)
    if not result.ok:
        log.warning("Run %s: %s %s differ between Ploomes and public.%s (e.g. %s)", listing.run_id, differing,
                    stream.name, stream.target, examples)
    return result


def _year_table(rows: list[tuple[Any, ...]], names: YearColumns) -> list[dict[str, Any]]:
    p_records, w_records, records_diff, p_amount, w_amount, amount_diff = names.names
    years: dict[Any, dict[str, Any]] = {}
    for year, cls, records, ploomes, warehouse, ploomes_amount, warehouse_amount, _ in rows:
        if cls not in COMPARED:
            continue
        entry = years.setdefault(year, {"year": year, p_records: 0, w_records: 0, p_amount: Decimal("0.00"),
                                        w_amount: Decimal("0.00"), "differing": 0})
        entry[p_records] += int(ploomes)
        entry[w_records] += int(warehouse)
        entry[p_amount] += ploomes_amount
        entry[w_amount] += warehouse_amount
        if cls == "differs":
            entry["differing"] += int(records)
    table = []
    for entry in sorted(years.values(), key=lambda e: (e["year"] is None, e["year"] or 0)):
        entry[records_diff] = entry[w_records] - entry[p_records]
        entry[amount_diff] = entry[w_amount] - entry[p_amount]
        entry["ok"] = entry["differing"] == 0 and entry[records_diff] == 0 and entry[amount_diff] == 0
        table.append({column: entry[column] for column in ("year", *names.names, "differing", "ok")})
    return table


def combine_years(tables: list[list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """One per-year table from several streams' (deals and orders side by side): a year one stream
    lacks has zeros in its columns; ``differing`` adds up, ``ok`` holds when it holds for each."""
    if len(tables) == 1:
        return tables[0]
    columns: dict[str, None] = {}
    by_year: dict[Any, dict[str, Any]] = {}
    for table in tables:
        for row in table:
            columns.update(dict.fromkeys(key for key in row if key not in ("year", "differing", "ok")))
            entry = by_year.setdefault(row["year"], {"year": row["year"], "differing": 0, "ok": True})
            entry.update({key: value for key, value in row.items() if key not in ("year", "differing", "ok")})
            entry["differing"] += row["differing"]
            entry["ok"] = entry["ok"] and row["ok"]
    combined = []
    for year in sorted(by_year, key=lambda y: (y is None, y or 0)):
        entry = by_year[year]
        combined.append({"year": year, **{c: entry.get(c, 0) for c in columns}, "differing": entry["differing"],
                         "ok": entry["ok"]})
    return combined


def year_json(years: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """JSON-safe per-year rows (decimals as strings), for ``run_history.year_table``."""
    return [{key: str(value) if isinstance(value, Decimal) else value for key, value in row.items()} for row in years]


def format_years(years: list[dict[str, Any]]) -> str:
    """A per-year table as text."""
    frame = pd.DataFrame(years)
    frame["year"] = frame["year"].map(lambda year: "(none)" if pd.isna(year) else str(int(year)))
    frame["ok"] = frame["ok"].map({True: "ok", False: "MISMATCH"})
    return frame.to_string(index=False)

"""Deals and won revenue per São Paulo year: Ploomes (the run's listing) against ``public.sales``."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

import psycopg

from ploomes_sync.settings import BUSINESS_TIMEZONE
from ploomes_sync.warehouse.connection import fetchall, require_aware, transaction
from ploomes_sync.warehouse.sqlfiles import load
from ploomes_sync.warehouse.staging import require_staged

log = logging.getLogger(__name__)

YEAR_COLUMNS = ("year", "ploomes_deals", "warehouse_deals", "deals_diff", "ploomes_won_revenue",
                "warehouse_won_revenue", "revenue_diff", "ok")


@dataclass(frozen=True)
class YearTable:
    """The comparison, one row per year present on either side (diffs are warehouse minus Ploomes).

    ``rows`` are dicts keyed by :data:`YEAR_COLUMNS`; ``year`` is None for warehouse rows without
    ``created_at``. ``excluded`` counts the listed deals left out because Ploomes changed them at
    or after the cutoff (the next run checks them).
    """

    rows: list[dict[str, Any]] = field(default_factory=list)
    excluded: int = 0

    @property
    def mismatches(self) -> list[dict[str, Any]]:
        """The rows whose deal count or won revenue differ."""
        return [row for row in self.rows if not row["ok"]]

    def to_json(self) -> list[dict[str, Any]]:
        """JSON-safe rows (decimals as strings), for XCom and ``run_history.year_table``."""
        return [{key: str(value) if isinstance(value, Decimal) else value for key, value in row.items()}
                for row in self.rows]

    def format(self) -> str:
        """A fixed-width text table for logs and e-mails (right-aligned columns).

        Plain string work on purpose: importing pandas for it cost every validate_by_year task about
        a second and 45 MB of memory.
        """
        if not self.rows:
            table = "(no deals on either side)"
        else:
            cells = [list(YEAR_COLUMNS)] + [
                ["(none)" if row["year"] is None else str(row["year"]),
                 *(str(row[column]) for column in YEAR_COLUMNS[1:-1]),
                 "ok" if row["ok"] else "MISMATCH"]
                for row in self.rows
            ]
            widths = [max(len(line[i]) for line in cells) for i in range(len(YEAR_COLUMNS))]
            table = "\n".join("  ".join(cell.rjust(width) for cell, width in zip(line, widths, strict=True))
                              for line in cells)
        if self.excluded:
            table += (f"\n{self.excluded} deals changed in Ploomes at or after the cutoff were left out "
                      "(checked next run).")
        return table


def compare_by_year(
    conn: psycopg.Connection,
    run_key: str,
    *,
    cutoff: datetime,
    created_from: datetime | None = None,
    created_to: datetime | None = None,
) -> YearTable:
    """Compare the run's listing with ``public.sales`` per São Paulo calendar year of ``created_at``.

    Both sides are limited to deals created in ``[created_from, created_to)`` when given (a range
    run lists only those), and both leave out the deals changed at or after ``cutoff`` on either
    side (in the listing, in ``public.sales``, or found deleted by another run). Raises
    :class:`StageMissing` when the run staged no listing.
    """
    for value, name in ((cutoff, "cutoff"), (created_from, "created_from"), (created_to, "created_to")):
        require_aware(value, name)
    params = {"run_key": run_key, "cutoff": cutoff, "created_from": created_from, "created_to": created_to,
              "tz": BUSINESS_TIMEZONE}
    with transaction(conn):
        require_staged(conn, run_key, "deal_listing")
        found = fetchall(conn, load("validate/by_year.sql"), params)
    excluded = found[0][-1]  # every row carries it; with no deals on either side, a row of nulls does
    rows = []
    for year, p_deals, w_deals, p_revenue, w_revenue, _ in found:
        if p_deals is None:
            continue  # that row of nulls
        deals_diff, revenue_diff = int(w_deals) - int(p_deals), w_revenue - p_revenue
        rows.append({
            "year": year, "ploomes_deals": int(p_deals), "warehouse_deals": int(w_deals),
            "deals_diff": deals_diff, "ploomes_won_revenue": p_revenue, "warehouse_won_revenue": w_revenue,
            "revenue_diff": revenue_diff, "ok": deals_diff == 0 and revenue_diff == 0,
        })
    table = YearTable(rows, int(excluded))
    if table.mismatches:
        log.warning("Run %s: the warehouse disagrees with Ploomes for years %s", run_key,
                    [row["year"] for row in table.mismatches])
    return table

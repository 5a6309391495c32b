"""validate_by_year: the warehouse against what this run listed. It compares and writes only the run history."""

from __future__ import annotations

import logging
from typing import Any

import psycopg

from ploomes_sync import warehouse
from ploomes_sync.errors import ValidationMismatch
from ploomes_sync.plan import RunPlan
from ploomes_sync.streams import Registry, registry
from ploomes_sync.warehouse import suspects

log = logging.getLogger(__name__)


def _every_record(listing: warehouse.Listing) -> bool:
    """Whether the listing covered every record of the stream (a full run's extract, a full listing)."""
    return listing.method != "count" and not (listing.created_from and listing.created_to)


def _scope(listing: warehouse.Listing) -> str:
    if listing.method == "count":
        return "the Id ranges whose counts differed (the others hold as many records on both sides)"
    if listing.created_from and listing.created_to:
        return f"records created from {listing.created_from:%Y-%m-%d %H:%M} to {listing.created_to:%Y-%m-%d %H:%M}"
    return "every record"


def validate_by_year(plan: RunPlan, *, conn: psycopg.Connection, streams: Registry | None = None) -> dict[str, Any]:
    """Compare, record by record, each stream this run listed with its public table.

    Deals (and orders) are counted per São Paulo year with the won revenue (the orders' amount) on
    each side, in one table. What the validation leaves
    out (and why) is counted in the run history and logged. Raises :class:`ValidationMismatch`
    when anything differs. A run that listed nothing (between listings) has nothing to compare.
    """
    checks: dict[str, Any] = {}
    reports = []
    years = []
    ok = True
    for stream in streams or registry():
        listing = warehouse.get_listing(conn, plan.run_id, stream.name)
        if listing is None:
            continue
        result = warehouse.validate(conn, stream, listing)
        suspects.add(conn, stream.name, dict.fromkeys(result.differing_ids, "the check found it different from "
                                                       "what Ploomes listed"), plan.run_id)
        checks[stream.name] = {**result.summary(), "scope": _scope(listing), "method": listing.method,
                               "every_record": _every_record(listing)}
        if result.years:
            years.append(result.years)
        reports.append(f"{stream.name} ({_scope(listing)}):\n{result.format()}")
        ok = ok and result.ok
    if not checks:
        log.info("No listing this run (listing_every_hours): nothing to compare; the next listing checks.")
        return {"compared": False}
    year_table = warehouse.year_json(warehouse.combine_years(years)) if years else None
    warehouse.record_validation(conn, plan.run_id, year_table=year_table, checks=checks)
    report = "\n\n".join(reports)
    log.info("The warehouse against this run's listing:\n%s", report)
    if not ok:
        raise ValidationMismatch(report)
    return {"compared": True, **{name: {k: v for k, v in c.items() if k != "examples"} for name, c in checks.items()}}

"""Staging -> ``public``: upserts of sales and customers, and the archive of deals gone from Ploomes.

Each function is one short transaction under the advisory lock of the table it writes, so runs
that overlap (the schedule and several backfills) take turns instead of deadlocking, and a
reader sees the table either before or after, never half-way.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, LiteralString

import psycopg

from ploomes_sync.warehouse.connection import advisory_lock, fetchone, fetchrow, require_aware, transaction
from ploomes_sync.warehouse.sqlfiles import load
from ploomes_sync.warehouse.staging import require_staged

log = logging.getLogger(__name__)

BIGINT_MAX = 2**63 - 1


@dataclass(frozen=True)
class MergeResult:
    """What a merge did with the run's staged rows (duplicates of an id counted once)."""

    inserted: int
    updated: int
    unchanged: int  # the target already held this version, or a newer one

    @property
    def staged(self) -> int:
        return self.inserted + self.updated + self.unchanged


def _merge(
    conn: psycopg.Connection,
    run_key: str,
    *,
    stream: Literal["deals", "contacts"],
    table: Literal["sales", "customers"],
    statement: LiteralString,
    watermark: datetime | None,
    params: dict[str, object] | None = None,
) -> MergeResult:
    require_aware(watermark, "watermark")
    moved = None
    with transaction(conn):
        advisory_lock(conn, table)
        require_staged(conn, run_key, stream)
        staged, inserted, updated = (int(value) for value in
                                     fetchrow(conn, statement, {"run_key": run_key, **(params or {})}))
        if watermark is not None:
            moved = fetchone(conn, load("merge/watermark.sql"),
                             {"stream": stream, "value": watermark, "run_key": run_key})
    result = MergeResult(inserted, updated, staged - inserted - updated)
    log.info("public.%s <- run %s: %s inserted, %s updated, %s unchanged", table, run_key, result.inserted,
             result.updated, result.unchanged)
    if watermark is not None:
        if moved is None:
            log.info("Watermark %s stays (already at or past %s)", stream, watermark.isoformat())
        else:
            log.info("Watermark %s moved to %s", stream, watermark.isoformat())
    return result


def merge_sales(conn: psycopg.Connection, run_key: str, *, watermark: datetime | None,
                read_after: datetime | None = None) -> MergeResult:
    """Upsert the run's staged deals into ``public.sales``; move the ``deals`` watermark with them.

    The newest staged version of each id wins; a row already newer in the table is kept; ``won``
    is ``status = 'won'``. A deal archived as deleted at or after ``read_after`` (when the run's
    extract began, at the latest) is not put back by this run's older read. The watermark (when
    given) becomes the greater of its value and ``watermark`` in the same transaction. Raises
    :class:`StageMissing` when the run staged no deals.
    """
    require_aware(read_after, "read_after")
    return _merge(conn, run_key, stream="deals", table="sales", statement=load("merge/sales.sql"),
                  watermark=watermark, params={"read_after": read_after})


def merge_customers(conn: psycopg.Connection, run_key: str, *, watermark: datetime | None) -> MergeResult:
    """Upsert the run's staged contacts into ``public.customers``; move the ``contacts`` watermark."""
    return _merge(conn, run_key, stream="contacts", table="customers", statement=load("merge/customers.sql"),
                  watermark=watermark)


def reconcile_deleted_sales(
    conn: psycopg.Connection,
    run_key: str,
    *,
    listing_started_at: datetime,
    created_from: datetime | None = None,
    created_to: datetime | None = None,
    allow_empty: bool = False,
) -> int:
    """Archive to ``ploomes_sync.deleted_sales`` and remove from ``public.sales`` the deals gone from Ploomes.

    The run's ``deal_listing`` staging holds every deal Ploomes has (created in
    ``[created_from, created_to)`` when given). A row of ``public.sales`` in that scope is gone
    when the listing lacks it, it was last written before ``listing_started_at`` and its id is
    not above the highest listed id. An empty listing against a non-empty scope deletes nothing
    (an API answering an empty list by mistake) unless ``allow_empty``. Returns rows archived.
    """
    for value, name in ((listing_started_at, "listing_started_at"), (created_from, "created_from"),
                        (created_to, "created_to")):
        require_aware(value, name)
    params: dict[str, object] = {"run_key": run_key, "listing_started_at": listing_started_at,
                                 "created_from": created_from, "created_to": created_to}
    with transaction(conn):
        advisory_lock(conn, "sales")
        require_staged(conn, run_key, "deal_listing")
        listed, max_id = fetchrow(conn, load("merge/listing_summary.sql"), params)
        if not listed:
            (in_scope,) = fetchrow(conn, load("merge/sales_in_scope.sql"), params)
            if in_scope and not allow_empty:
                log.warning(
                    "Run %s listed no deals in Ploomes but public.sales holds %s in the same scope: deleting "
                    "nothing. If Ploomes really has none, reconcile again with allow_empty=True.",
                    run_key, in_scope,
                )
                return 0
            max_id = BIGINT_MAX
        (archived,) = fetchrow(conn, load("merge/archive_deleted_sales.sql"), {**params, "max_id": max_id})
    log.info("Run %s: %s deals gone from Ploomes archived to ploomes_sync.deleted_sales and removed from "
             "public.sales (listing of %s deals, ids up to %s)", run_key, archived, listed, max_id)
    return archived

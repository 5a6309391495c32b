"""``public.customer_sales`` recomputed set-based from ``public.sales`` and ``public.customers``.

:func:`aggregate_customer_sales` recomputes every row in a transaction of its own. The merges and
the reconcile call :func:`refresh_customer_sales` inside their own transaction for the customers
they touched, after taking their table's lock (always in that order: table, then customer_sales,
so writers never deadlock).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import psycopg

from ploomes_sync.warehouse.connection import advisory_lock, fetchrow, transaction
from ploomes_sync.warehouse.sqlfiles import load

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AggregateResult:
    """What one aggregation wrote."""

    rows: int  # customers with at least one deal: every one of them was written (last_sync_at)
    inserted: int  # ... of which new
    updated: int  # ... of which existed with at least one different value
    deleted: int  # customers left with no deal, whose row was removed

    @property
    def unchanged(self) -> int:
        return self.rows - self.inserted - self.updated


def _run(conn: psycopg.Connection, customers: Sequence[int] | None) -> AggregateResult:
    advisory_lock(conn, "customer_sales")
    counts = fetchrow(conn, load("aggregate/customer_sales.sql"),
                      {"customers": None if customers is None else list(customers)})
    return AggregateResult(*(int(count) for count in counts))


def aggregate_customer_sales(conn: psycopg.Connection) -> AggregateResult:
    """Recompute every row of ``public.customer_sales`` per the contract, in one short transaction.

    Upsert and delete, never truncate: the table keeps its grants and RLS, and readers are never
    blocked nor see it empty. Every row written gets ``last_sync_at``.
    """
    with transaction(conn):
        result = _run(conn, None)
    log.info("public.customer_sales: %s rows (%s new, %s changed, %s unchanged), %s removed", result.rows,
             result.inserted, result.updated, result.unchanged, result.deleted)
    return result


def refresh_customer_sales(conn: psycopg.Connection, customers: Sequence[int]) -> int:
    """Recompute the rows of ``customers`` inside the caller's transaction; return rows written or removed."""
    if not customers:
        return 0
    result = _run(conn, customers)
    return result.rows + result.deleted

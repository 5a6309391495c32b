"""Rows gone from Ploomes leave ``public``: archived under ``ploomes_sync``, never just dropped.

One transaction under the table's lock: find the rows the run's listing judges gone (see
``include/sql/reconcile/candidates.sql``), let the caller's guard refuse (a mass deletion: nothing
is deleted), archive and remove them, and recompute the ``customer_sales`` rows they touched.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

import psycopg

from ploomes_sync.streams import Stream
from ploomes_sync.warehouse.aggregate import refresh_customer_sales
from ploomes_sync.warehouse.connection import advisory_lock, fetchrow, transaction
from ploomes_sync.warehouse.listing import Listing
from ploomes_sync.warehouse.staging import require_staged
from ploomes_sync.warehouse.statements import statement

log = logging.getLogger(__name__)

#: Called with (rows in scope, rows judged, rows gone) before anything is deleted; raising refuses it.
Guard = Callable[[int, int, int], None]


@dataclass(frozen=True)
class Reconciled:
    """What a reconcile found and did."""

    scope: int  # rows of the table (or of a date-range run's scope)
    judged: int  # ... that the listing covered
    gone: int  # ... that Ploomes no longer has
    archived: int  # ... archived and removed (fewer when another run wrote one meanwhile)
    customers: int = 0  # customer_sales rows recomputed
    refused: str | None = None  # why nothing was deleted, when it was not
    gone_ids: tuple[int, ...] = ()  # the ids judged gone (archived unless refused or written meanwhile)


def reconcile(conn: psycopg.Connection, stream: Stream, listing: Listing, guard: Guard) -> Reconciled:
    """Archive and remove the rows of ``stream``'s table that ``listing`` shows gone from Ploomes."""
    params = {"run_id": listing.run_id, "stream": listing.stream, "started_wh": listing.started_wh,
              "created_from": listing.created_from, "created_to": listing.created_to,
              "reject_stream": listing.reject_stream}
    with transaction(conn):
        advisory_lock(conn, stream.target)
        require_staged(conn, stream if listing.source == "extract" else stream.listing(), listing.run_id)
        scope, judged, gone = fetchrow(conn, statement("reconcile/candidates.sql", stream, listing=listing.staging),
                                       params)
        scope, judged, gone = int(scope), int(judged), list(gone)
        if listing.rejected_without_id:
            reason = (f"the listing set aside {listing.rejected_without_id} records without a usable Id, so "
                      "any row of the table might be one of them")
            log.warning("Run %s: %s of %s rows of public.%s look gone from Ploomes, but %s: deleting nothing.",
                        listing.run_id, len(gone), judged, stream.target, reason)
            return Reconciled(scope, judged, len(gone), 0, refused=reason, gone_ids=tuple(gone))
        guard(scope, judged, len(gone))  # may raise: the transaction rolls back, nothing is deleted
        if not gone:
            return Reconciled(scope, judged, 0, 0)
        archived, customers = fetchrow(conn, statement("reconcile/archive.sql", stream),
                                       {**params, "ids": gone})
        refreshed = refresh_customer_sales(conn, customers or [])
    log.info("Run %s: %s of %s rows of public.%s are gone from Ploomes: archived to ploomes_sync.%s and removed; "
             "%s customer_sales rows recomputed", listing.run_id, archived, judged, stream.target, stream.archive,
             refreshed)
    return Reconciled(scope, judged, len(gone), int(archived), refreshed, gone_ids=tuple(gone))

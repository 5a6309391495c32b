"""Rows gone from Ploomes leave ``public``: archived under ``ploomes_sync``, never just dropped.

What a listing suggests is only a suggestion: :func:`candidates` are the rows a run's listing
judged and did not find (``include/sql/reconcile/candidates.sql``), :func:`differing` the records
it found that the table lacks or holds in another version. The caller reads both again by Id
(a second, independent answer) and :func:`archive` removes only the candidates that read did not
find either: one transaction under the table's lock, the candidates computed again there (a row
written since is no longer one), the caller's guard first (a mass deletion: nothing is deleted),
then the archive, and the ``customer_sales`` rows they touched recomputed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Any

import psycopg

from ploomes_sync.streams import Stream, registry
from ploomes_sync.warehouse.aggregate import refresh_customer_sales
from ploomes_sync.warehouse.connection import advisory_lock, fetchall, fetchrow, transaction
from ploomes_sync.warehouse.listing import Listing
from ploomes_sync.warehouse.staging import require_staged
from ploomes_sync.warehouse.statements import statement

log = logging.getLogger(__name__)

#: Called with (rows in scope, rows judged, ids confirmed gone) before anything is deleted; raising refuses it.
Guard = Callable[[int, int, Sequence[int]], None]


@dataclass(frozen=True)
class Candidates:
    """What a listing suggests is gone from Ploomes."""

    scope: int  # rows of the table (or of a date-range run's scope)
    judged: int  # ... that the listing covered
    gone: tuple[int, ...]  # ... that it did not find (nor set aside)
    refused: str | None = None  # why none of them may go, whatever a confirming read says


@dataclass(frozen=True)
class Reconciled:
    """What a reconcile found and did."""

    scope: int
    judged: int
    gone: int  # rows confirmed gone from Ploomes (by the listing and a read by Id)
    archived: int  # ... archived and removed (fewer when another run wrote one meanwhile)
    customers: int = 0  # customer_sales rows recomputed
    refused: str | None = None  # why nothing was deleted, when it was not
    gone_ids: tuple[int, ...] = ()


def _params(listing: Listing) -> dict[str, Any]:
    return {"run_id": listing.run_id, "stream": listing.stream, "started_wh": listing.started_wh,
            "created_from": listing.created_from, "created_to": listing.created_to,
            "reject_stream": listing.reject_stream}


def _candidates(conn: psycopg.Connection, stream: Stream, listing: Listing) -> Candidates:
    require_staged(conn, stream if listing.source == "extract" else stream.listing(), listing.run_id)
    scope, judged, gone = fetchrow(conn, statement("reconcile/candidates.sql", stream, listing=listing.staging),
                                   _params(listing))
    refused = None
    if listing.rejected_without_id:
        refused = (f"the listing set aside {listing.rejected_without_id} records without a usable Id, so any "
                   "row of the table might be one of them")
    return Candidates(int(scope), int(judged), tuple(gone), refused)


def candidates(conn: psycopg.Connection, stream: Stream, listing: Listing) -> Candidates:
    """The rows of ``stream``'s table that ``listing`` judged and did not find."""
    with transaction(conn):
        return _candidates(conn, stream, listing)


def differing(conn: psycopg.Connection, stream: Stream, listing: Listing) -> list[int]:
    """The records ``listing`` holds that ``stream``'s table lacks or holds in another version."""
    with transaction(conn):
        (ids,) = fetchrow(conn, statement("reconcile/differs.sql", stream, listing=listing.staging),
                          _params(listing))
    return list(ids)


def archive(conn: psycopg.Connection, stream: Stream, listing: Listing, confirmed: Collection[int],
            guard: Guard) -> Reconciled:
    """Archive and remove the rows of ``stream``'s table that ``listing`` shows gone and a read by Id
    (``confirmed``) did not find either."""
    with transaction(conn):
        advisory_lock(conn, stream.target)
        found = _candidates(conn, stream, listing)
        if found.refused:
            log.warning("Run %s: %s rows of public.%s look gone from Ploomes, but %s: deleting nothing.",
                        listing.run_id, len(found.gone), stream.target, found.refused)
            return Reconciled(found.scope, found.judged, len(found.gone), 0, refused=found.refused)
        gone = sorted(set(found.gone) & set(confirmed))
        guard(found.scope, found.judged, gone)  # may raise: the transaction rolls back, nothing is deleted
        if not gone:
            return Reconciled(found.scope, found.judged, 0, 0)
        archived, customers = fetchrow(conn, statement("reconcile/archive.sql", stream),
                                       {**_params(listing), "ids": gone})
        if stream.custom_keys:
            forget_custom_values(conn, stream, listing.run_id, gone)
        refreshed = refresh_customer_sales(conn, customers or [])
    log.info("Run %s: %s of %s rows of public.%s are gone from Ploomes (a read by Id confirmed it): archived to "
             "ploomes_sync.%s and removed; %s customer_sales rows recomputed", listing.run_id, archived,
             found.judged, stream.target, stream.archive, refreshed)
    return Reconciled(found.scope, found.judged, len(gone), int(archived), refreshed, gone_ids=tuple(gone))


def forget_custom_values(conn: psycopg.Connection, fields: Stream, run_id: str, ids: Collection[int]) -> None:
    """Take the values of the custom fields ``ids`` (just archived by run ``run_id``) off the records of
    the streams they belong to, as Ploomes does when a field is removed."""
    for entity, keys in fetchall(conn, statement("reconcile/archived_fields.sql", fields),
                                 {"run_id": run_id, "ids": sorted(ids)}):
        records = registry()[entity]
        (changed,) = fetchrow(conn, statement("reconcile/forget_custom_values.sql", records), {"keys": keys})
        log.info("Run %s: custom fields %s are gone from Ploomes: their values left %s rows of public.%s",
                 run_id, keys, changed, records.target)


def held(conn: psycopg.Connection, stream: Stream, ids: Collection[int]) -> set[int]:
    """Which of ``ids`` the stream's table holds."""
    if not ids:
        return set()
    with transaction(conn):
        (found,) = fetchrow(conn, statement("reconcile/held.sql", stream), {"ids": sorted(ids)})
    return set(found)

"""A run's listing of a stream: what it read, when it began, and the Id ranges it covers.

``ploomes_sync.listings`` holds one row per run and stream; ``ploomes_sync.listing_ranges`` the
ranges ``(id_after, id_upto]`` it covers, each *listed* (every record in it was staged) or
*counted* (Ploomes and the warehouse hold as many records in it: none is gone). Only listed
ranges are judged by the reconcile and compared by the check.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import psycopg

from ploomes_sync.streams import Stream
from ploomes_sync.warehouse.connection import execute, fetchall, fetchone, fetchrow, require_aware, transaction
from ploomes_sync.warehouse.sqlfiles import load
from ploomes_sync.warehouse.statements import statement


def confirm_id(run_id: str) -> str:
    """The staging id of a run's reads by Id after its listings (the reconcile's): the check takes
    what they found over the listing's older answer."""
    return f"{run_id}.confirm"


@dataclass(frozen=True)
class Listing:
    """One run's listing of one stream."""

    run_id: str
    stream: str
    source: str  # "extract" (the stream's staging) or "listing" (its listing staging)
    method: str  # "full", "count", "extract" (the extract read them all), "ids" (the webhook applier)
    started_wh: datetime  # the warehouse's clock when it began
    read_started_at: datetime | None  # Ploomes' clock when it began
    created_from: datetime | None = None
    created_to: datetime | None = None
    requests: int = 0
    listed: int = 0
    rejected: int = 0
    rejected_without_id: int = 0  # rejects that name no record: the listing cannot be trusted to delete
    read_ended_at: datetime | None = None  # Ploomes' clock when its read ended: a later date is a date ahead

    @property
    def staging(self) -> str:
        """Template field of the staging table that holds it."""
        return "stage" if self.source == "extract" else "listing"

    @property
    def reject_stream(self) -> str:
        """The stream name its rejects were recorded under."""
        return self.stream if self.source == "extract" else f"{self.stream}_listing"


@dataclass(frozen=True)
class IdRange:
    """``(id_after, id_upto]`` (None: unbounded), listed or counted, with the counts when counted."""

    id_after: int | None
    id_upto: int | None
    listed: bool
    ploomes_count: int | None = None
    warehouse_count: int | None = None


def clear_listing(conn: psycopg.Connection, run_id: str, stream: str) -> None:
    """Forget the run's listing of ``stream`` (a retried listing starts over)."""
    with transaction(conn):
        execute(conn, load("listing/clear.sql"), {"run_id": run_id, "stream": stream})


def record_listing(conn: psycopg.Connection, listing: Listing, ranges: list[IdRange]) -> None:
    """Record the listing and its ranges, replacing any earlier record of the same run and stream."""
    for value, name in ((listing.started_wh, "started_wh"), (listing.read_started_at, "read_started_at"),
                        (listing.created_from, "created_from"), (listing.created_to, "created_to"),
                        (listing.read_ended_at, "read_ended_at")):
        require_aware(value, name)
    params = {key: getattr(listing, key) for key in Listing.__dataclass_fields__}
    with transaction(conn):
        execute(conn, load("listing/clear.sql"), {"run_id": listing.run_id, "stream": listing.stream})
        execute(conn, load("listing/register.sql"), params)
        execute(conn, load("listing/add_ranges.sql"), {
            "run_id": listing.run_id, "stream": listing.stream,
            **{name: [getattr(id_range, name) for id_range in ranges] for name in IdRange.__dataclass_fields__}})


def get_listing(conn: psycopg.Connection, run_id: str, stream: str) -> Listing | None:
    """The run's listing of ``stream``, or None when it made none."""
    with transaction(conn):
        row = fetchone(conn, load("listing/get.sql"), {"run_id": run_id, "stream": stream})
    return None if row is None else Listing(*row)


def listing_ranges(conn: psycopg.Connection, run_id: str, stream: str) -> list[IdRange]:
    """The ranges the run's listing of ``stream`` covers, lowest first."""
    with transaction(conn):
        rows = fetchall(conn, load("listing/ranges.sql"), {"run_id": run_id, "stream": stream})
    return [IdRange(*row) for row in rows]


def warehouse_count(conn: psycopg.Connection, stream: Stream, id_after: int | None, id_upto: int | None) -> int:
    """Rows of the stream's table in ``(id_after, id_upto]``."""
    with transaction(conn):
        (count,) = fetchrow(conn, statement("listing/warehouse_count.sql", stream),
                            {"id_after": id_after, "id_upto": id_upto})
    return int(count)


def max_id(conn: psycopg.Connection, stream: Stream) -> int | None:
    """The highest id of the stream's table (None when it is empty): where a count listing stops."""
    with transaction(conn):
        (value,) = fetchrow(conn, statement("listing/max_id.sql", stream))
    return value


def id_at(conn: psycopg.Connection, stream: Stream, id_after: int | None, id_upto: int | None,
          position: int) -> int | None:
    """The id at ``position`` (1: the lowest) of the stream's table in ``(id_after, id_upto]`` (None when
    the range holds fewer rows)."""
    with transaction(conn):
        row = fetchone(conn, statement("listing/id_at.sql", stream),
                       {"id_after": id_after, "id_upto": id_upto, "position": position})
    return None if row is None else row[0]


def last_listing(conn: psycopg.Connection, stream: str, methods: tuple[str, ...]) -> datetime | None:
    """When the last listing of ``stream`` (by one of ``methods``) of a successful run began."""
    with transaction(conn):
        (value,) = fetchrow(conn, load("listing/last_listing.sql"), {"stream": stream, "methods": list(methods)})
    return value

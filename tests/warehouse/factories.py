"""Row tuples as the stream specs make them, with readable defaults, and the steps tests repeat."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from ploomes_sync import warehouse
from ploomes_sync.streams import Stream
from tests.support.streams import CONTACTS, DEALS

T0 = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)
DEAL_LISTING = DEALS.listing()
CONTACT_LISTING = CONTACTS.listing()


def at(minutes: float) -> datetime:
    """An instant ``minutes`` after T0."""
    return T0 + timedelta(minutes=minutes)


def deal(id: int, **fields: Any) -> tuple:
    values = {"id": id, "customer_id": 100, "title": f"Deal {id}", "deal_value": Decimal("10.00"),
              "status": "open", "pipeline_id": 1, "stage_id": 2, "owner_id": 3, "created_at": T0,
              "updated_at": T0, "closed_at": None, "custom_fields": Jsonb({})}
    values.update(fields)
    values.setdefault("won", values["status"] == "won")
    return tuple(values.get(column) for column in DEALS.column_names)  # a column without a default: null


def contact(id: int, **fields: Any) -> tuple:
    values = {"id": id, "name": f"Contact {id}", "legal_name": f"Contact {id} Ltda", "cnpj": "12345678000190",
              "zip_code": "01310100", "is_client": False, "created_at": T0, "updated_at": T0,
              "custom_fields": Jsonb({})}
    values.update(fields)
    return tuple(values.get(column) for column in CONTACTS.column_names)  # a column without a default: null


def listed(id: int, **fields: Any) -> tuple:
    """A deal listing row (the listing's columns) with the defaults of :func:`deal`."""
    return as_listing(deal(id, **fields))


def as_listing(deal_row: tuple) -> tuple:
    """The listing row Ploomes would give for a deal row."""
    d = dict(zip(DEALS.column_names, deal_row, strict=True))
    return tuple(d[column] for column in DEAL_LISTING.column_names)


def contact_listed(id: int, updated_at: datetime = T0) -> tuple:
    return (id, updated_at)


def stage(conn: psycopg.Connection, stream: Stream, run_id: str, rows: list[tuple], *,
          read_started_at: datetime | None = None, read_started_wh: datetime | None = None) -> int:
    """Stage ``rows`` for the run and register them, as an extract does."""
    warehouse.clear_stage(conn, stream, run_id)
    count = warehouse.stage_rows(conn, stream, run_id, rows)
    warehouse.register_stage(conn, stream.name, run_id, count, read_started_at=read_started_at,
                             read_started_wh=read_started_wh)
    return count


def load(conn: psycopg.Connection, run_id: str, rows: list[tuple], *, stream: Stream = DEALS,
         watermark: datetime | None = None, read_started_wh: datetime | None = None) -> warehouse.MergeResult:
    """Stage and merge ``rows`` (deals by default); the watermark moves to ``watermark`` when given."""
    stage(conn, stream, run_id, rows, read_started_at=watermark, read_started_wh=read_started_wh)
    return warehouse.merge(conn, stream, run_id, move_watermark=watermark is not None)


def now(conn: psycopg.Connection) -> datetime:
    """The warehouse's clock."""
    return warehouse.warehouse_now(conn)


def list_ploomes(conn: psycopg.Connection, run_id: str, rows: list[tuple], *, stream: Stream = DEALS,
                 started_wh: datetime | None = None, read_started_at: datetime | None = None,
                 ranges: list[warehouse.IdRange] | None = None, method: str = "full",
                 created_from: datetime | None = None, created_to: datetime | None = None,
                 rejected_without_id: int = 0) -> warehouse.Listing:
    """Stage a listing of ``rows`` (listing rows of ``stream``) and record it, as the listing task does."""
    listing_stream = stream.listing()
    started_wh = started_wh or now(conn)
    stage(conn, listing_stream, run_id, rows, read_started_at=read_started_at, read_started_wh=started_wh)
    listing = warehouse.Listing(run_id=run_id, stream=stream.name, source="listing", method=method,
                                started_wh=started_wh, read_started_at=read_started_at or T0,
                                created_from=created_from, created_to=created_to, listed=len(rows),
                                rejected_without_id=rejected_without_id)
    warehouse.record_listing_ranges(conn, listing, ranges or [warehouse.IdRange(None, None, listed=True)])
    return listing


def reconcile(conn: psycopg.Connection, stream: Stream, listing: warehouse.Listing, guard: Any) -> Any:
    """What the reconcile does once a read by Id confirmed every candidate of ``listing`` gone."""
    return warehouse.archive(conn, stream, listing, warehouse.candidates(conn, stream, listing).gone, guard)


def plain(row: tuple, stream: Stream = DEALS) -> tuple:
    """A row of ``stream`` as it reads back from its staging: its jsonb columns (JSON text, or a
    wrapper) as the values they hold."""
    kinds = [column.sql_type for column in stream.columns]
    return tuple(value.obj if isinstance(value, Jsonb) else json.loads(value) if kind == "jsonb"
                 and isinstance(value, str) else value for kind, value in zip(kinds, row, strict=True))

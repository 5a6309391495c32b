"""Row tuples as ploomes_sync.records makes them, with readable defaults."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from ploomes_sync.warehouse.staging import CONTACT_COLUMNS, DEAL_COLUMNS, DEAL_LISTING_COLUMNS

T0 = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)


def at(minutes: float) -> datetime:
    """An instant ``minutes`` after T0."""
    return T0 + timedelta(minutes=minutes)


def deal(id: int, **fields: Any) -> tuple:
    values = {"id": id, "customer_id": 100, "title": f"Deal {id}", "deal_value": Decimal("10.00"),
              "status": "open", "pipeline_id": 1, "stage_id": 2, "owner_id": 3, "created_at": T0,
              "updated_at": T0, "closed_at": None}
    values.update(fields)
    return tuple(values[column] for column in DEAL_COLUMNS)


def contact(id: int, **fields: Any) -> tuple:
    values = {"id": id, "name": f"Contact {id}", "legal_name": f"Contact {id} Ltda", "cnpj": "12345678000190",
              "zip_code": "01310100", "is_client": False, "created_at": T0, "updated_at": T0}
    values.update(fields)
    return tuple(values[column] for column in CONTACT_COLUMNS)


def listed(id: int, **fields: Any) -> tuple:
    values = {"id": id, "created_at": T0, "status": "open", "deal_value": Decimal("10.00"), "updated_at": T0}
    values.update(fields)
    return tuple(values[column] for column in DEAL_LISTING_COLUMNS)


def as_listing(deal_row: tuple) -> tuple:
    """The listing row Ploomes would give for a deal row."""
    d = dict(zip(DEAL_COLUMNS, deal_row, strict=True))
    return listed(d["id"], created_at=d["created_at"], status=d["status"], deal_value=d["deal_value"],
                  updated_at=d["updated_at"])

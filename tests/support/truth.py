"""The warehouse the contract demands, computed from the simulator's truth independently of the sync.

Dates are parsed by PostgreSQL itself, not by the sync's parser; money is rounded with Decimal.
The columns are the contract's (``tests.support.contract``); a deal or contact column this module
has no rule of its own for is read from the field its spec names, by the contract's type (so a new
plain field needs no line here).
"""

from __future__ import annotations

import re
from collections import defaultdict
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from zoneinfo import ZoneInfo

import psycopg

from ploomes_sync.streams import Stream
from tests.support.contract import JSONB, MONEY, PUBLIC, TSTZ, compared
from tests.support.streams import CONTACTS, DEALS

STATUS = {1: "open", 2: "won", 3: "lost"}
CLIENT_TAG = 40006184
SALES_COLUMNS = compared("sales")
CUSTOMER_COLUMNS = compared("customers")
CUSTOMER_SALES_COLUMNS = compared("customer_sales")


def make_stale(conn: psycopg.Connection, ids: list[int]) -> None:
    """Deals ``ids`` as a stale warehouse holds them (an old tool, rows edited by hand): title
    ``'stale'``, ``updated_at`` in 2000, so that only a re-sync of their range restores them."""
    conn.execute("UPDATE public.sales SET title = 'stale', updated_at = '2000-01-01' WHERE id = ANY(%s)", [ids])


def _instants(conn: psycopg.Connection, values: list[str | None]) -> list[Any]:
    """Parse ISO strings with PostgreSQL (the reference for timestamptz input)."""
    rows = conn.execute("SELECT v::timestamptz FROM unnest(%s::text[]) WITH ORDINALITY AS t(v, n) ORDER BY n",
                        [values]).fetchall()
    return [row[0] for row in rows]


def _money(value: Any) -> Decimal | None:
    if value is None:
        return None
    return Decimal(repr(value)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")
_SAO_PAULO = ZoneInfo("America/Sao_Paulo")


def _custom_value(value: Any) -> Any:
    """A compact custom value as the warehouse keeps it: a date at São Paulo's offset, the rest as is."""
    if isinstance(value, list):
        return [_custom_value(one) for one in value]
    if isinstance(value, str) and _ISO.match(value):
        local = datetime.fromisoformat(value).astimezone(_SAO_PAULO)
        return local.isoformat(timespec="milliseconds" if local.microsecond else "seconds")
    return value


def custom_fields_of(values: Any) -> dict[str, Any]:
    """The truth's compact custom values (``truth(custom=True)``) -> ``custom_fields``."""
    if values is None:
        raise AssertionError("the truth was fetched without its custom values: pass custom=True")
    return {key: _custom_value(value) for key, value in values.items() if value is not None}


def _by_type(conn: psycopg.Connection, stream: Stream, records: list[dict], known: set[str]) -> list[dict]:
    """Per record, the columns of ``stream``'s table with no rule of their own: its field, by type."""
    table = PUBLIC[stream.target]
    rest = [column for column in stream.columns if column.name not in known and column.name in table]
    out: list[dict] = [{} for _ in records]
    for column in rest:
        values = [record.get(column.fields[0]) for record in records]
        if table[column.name] == TSTZ:
            values = _instants(conn, values)
        elif table[column.name] == MONEY:
            values = [_money(value) for value in values]
        elif table[column.name] == JSONB:
            values = [custom_fields_of(value) for value in values]
        for row, value in zip(out, values, strict=True):
            row[column.name] = value
    return out


def expected_sales(conn: psycopg.Connection, deals: list[dict]) -> dict[int, dict]:
    created = _instants(conn, [d["CreateDate"] for d in deals])
    updated = _instants(conn, [d["LastUpdateDate"] for d in deals])
    finished = _instants(conn, [d.get("FinishDate") for d in deals])
    out = {}
    for deal, c, u, f in zip(deals, created, updated, finished, strict=True):
        out[deal["Id"]] = {
            "id": deal["Id"], "customer_id": deal.get("ContactId"), "title": deal.get("Title"),
            "deal_value": _money(deal.get("Amount")), "status": STATUS[deal["StatusId"]],
            "won": deal["StatusId"] == 2, "pipeline_id": deal.get("PipelineId"),
            "stage_id": deal.get("StageId"), "owner_id": deal.get("OwnerId"),
            "created_at": c, "updated_at": u, "closed_at": f,
        }
    for deal, rest in zip(deals, _by_type(conn, DEALS, deals, set(next(iter(out.values()), {}))), strict=True):
        out[deal["Id"]].update(rest)
    return out


def _digits(value: Any) -> str:
    return re.sub(r"\D", "", value) if isinstance(value, str) else ""


def expected_customers(conn: psycopg.Connection, contacts: list[dict], client_tag: int = CLIENT_TAG) -> dict:
    created = _instants(conn, [c["CreateDate"] for c in contacts])
    updated = _instants(conn, [c["LastUpdateDate"] for c in contacts])
    out = {}
    for contact, c, u in zip(contacts, created, updated, strict=True):
        cnpj = _digits(contact.get("CNPJ"))
        if len(cnpj) != 14:
            cnpj = _digits(contact.get("Register"))
        zip_code = contact.get("ZipCode")
        tags = contact.get("Tags") or []
        out[contact["Id"]] = {
            "id": contact["Id"], "name": contact.get("Name"), "legal_name": contact.get("LegalName"),
            "cnpj": cnpj if len(cnpj) == 14 else None,
            "zip_code": str(zip_code).zfill(8) if isinstance(zip_code, int) and 0 <= zip_code < 10**8 else None,
            "is_client": any(t.get("TagId") == client_tag for t in tags),
            "created_at": c, "updated_at": u,
        }
    for contact, rest in zip(contacts, _by_type(conn, CONTACTS, contacts, set(next(iter(out.values()), {}))),
                             strict=True):
        out[contact["Id"]].update(rest)
    return out


def expected_customer_sales(sales: dict[int, dict], customers: dict[int, dict]) -> dict[int, dict]:
    by_customer: dict[int, list[dict]] = defaultdict(list)
    for row in sales.values():
        if row["customer_id"] is not None:
            by_customer[row["customer_id"]].append(row)
    out = {}
    for customer_id, deals in by_customer.items():
        won = [d for d in deals if d["won"]]
        valued = [d["deal_value"] for d in won if d["deal_value"] is not None]
        dates = [d["closed_at"] or d["created_at"] for d in won]
        customer = customers.get(customer_id)
        average = (sum(valued) / len(valued)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP) if valued else None
        out[customer_id] = {
            "customer_id": customer_id,
            "customer_name": customer["name"] if customer else None,
            "customer_cnpj": customer["cnpj"] if customer else None,
            "total_deals": len(deals), "won_deals": len(won), "total_sales": len(won),
            "total_revenue": sum(valued, Decimal("0.00")),
            "average_deal_value": average,
            "first_purchase_date": min(dates) if dates else None,
            "last_purchase_date": max(dates) if dates else None,
        }
    return out


def warehouse_rows(conn: psycopg.Connection, table: str, columns: tuple[str, ...], key: str) -> dict:
    cols = ", ".join(columns)
    with conn.cursor(row_factory=psycopg.rows.dict_row) as cur:
        cur.execute(f"SELECT {cols} FROM public.{table}")
        return {row[key]: row for row in cur.fetchall()}


def assert_warehouse_equals_truth(conn: psycopg.Connection, deals: list[dict], contacts: list[dict]) -> None:
    """Every contract column of every row of the three tables equals what the truth demands."""
    sales = expected_sales(conn, deals)
    customers = expected_customers(conn, contacts)
    aggregates = expected_customer_sales(sales, customers)
    for table, columns, key, expected in (
        ("sales", SALES_COLUMNS, "id", sales),
        ("customers", CUSTOMER_COLUMNS, "id", customers),
        ("customer_sales", CUSTOMER_SALES_COLUMNS, "customer_id", aggregates),
    ):
        actual = warehouse_rows(conn, table, columns, key)
        missing, extra = sorted(set(expected) - set(actual)), sorted(set(actual) - set(expected))
        assert not missing and not extra, f"{table}: missing {missing[:10]}, unexpected {extra[:10]}"
        wrong = [(k, {c: (expected[k][c], actual[k][c]) for c in columns if expected[k][c] != actual[k][c]})
                 for k in expected if expected[k] != actual[k]]
        assert not wrong, f"{table}: {len(wrong)} rows differ, e.g. {wrong[:3]}"


def assert_warehouse_equals_simulator(conn: psycopg.Connection, admin: Any) -> None:
    """:func:`assert_warehouse_equals_truth` against the simulator's current truth (with custom values)."""
    assert_warehouse_equals_truth(conn, admin.truth_deals(custom=True), admin.truth_contacts(custom=True))

"""After a scenario, outside its timing: does the warehouse hold what the simulator holds?

Computed from the simulator's truth (``/_admin/truth``), independently of the sync's own
validation: the same deal ids with the same status and value, the same contact ids with the same
client flag, per customer the same deal count, won count and won revenue; the same products with
the same price (also the current one of their price history), orders and quotes with the same
amount, and each of their lines with the same product, quantity and total.
"""

from __future__ import annotations

from collections import defaultdict
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import psycopg

from ploomes_simulator import AdminClient
from ploomes_sync.settings import DEFAULT_CLIENT_TAG_ID

STATUS = {1: "open", 2: "won", 3: "lost"}
CENT = Decimal("0.01")


def _money(value: Any) -> Decimal | None:
    if value is None:
        return None
    return Decimal(repr(value)).quantize(CENT, rounding=ROUND_HALF_UP)


def _differences(name: str, expected: dict, actual: dict) -> list[str]:
    missing = [key for key in expected if key not in actual]
    extra = [key for key in actual if key not in expected]
    wrong = [key for key in expected if key in actual and expected[key] != actual[key]]
    problems = []
    for what, keys in (("missing", missing), ("unexpected", extra), ("different", wrong)):
        if keys:
            problems.append(f"{name}: {len(keys)} {what}, e.g. {sorted(keys)[:5]}")
    return problems


def _commerce(db_url: str, admin: AdminClient) -> list[str]:
    """What differs in the products, orders, quotes and their lines (and the current catalogue prices)."""
    problems: list[str] = []
    products = {p["Id"]: _money(p.get("UnitPrice")) for p in admin.truth("products")}
    documents = {entity: admin.truth(entity) for entity in ("orders", "quotes")}
    with psycopg.connect(db_url) as conn:
        problems += _differences("products", products, dict(conn.execute("SELECT id, unit_price FROM public.products")))
        current = dict(conn.execute("SELECT product_id, unit_price FROM public.product_prices WHERE valid_to IS NULL "
                                    "AND product_id IN (SELECT id FROM public.products)"))
        problems += _differences("product_prices (current)", products, current)
        for entity, lines in (("orders", "order_items"), ("quotes", "quote_items")):
            records = documents[entity]
            problems += _differences(entity, {r["Id"]: _money(r.get("Amount")) for r in records},
                                     dict(conn.execute(f"SELECT id, amount FROM public.{entity}")))  # noqa: S608
            expected = {line["Id"]: (line.get("ProductId"), Decimal(repr(line["Quantity"])).normalize(),
                                     _money(line.get("Total"))) for r in records for line in r.get("Products") or ()}
            actual = {row[0]: (row[1], row[2].normalize(), row[3]) for row in conn.execute(
                f"SELECT id, product_id, quantity, line_total FROM public.{lines}")}  # noqa: S608
            problems += _differences(lines, expected, actual)
    return problems


def verify_warehouse(db_url: str, admin: AdminClient, client_tag_id: int = DEFAULT_CLIENT_TAG_ID, *,
                     commerce: bool = True) -> dict[str, Any]:
    """Compare the tables with the truth (the commerce ones too, unless ``commerce`` is false: the old
    cron knew none); ``matched`` is True when nothing differs."""
    deals, contacts = admin.truth_deals(), admin.truth_contacts()
    sales = {d["Id"]: (STATUS.get(d.get("StatusId")), _money(d.get("Amount"))) for d in deals}
    customers = {c["Id"]: any(t.get("TagId") == client_tag_id for t in c.get("Tags") or []) for c in contacts}
    per_customer: dict[int, list] = defaultdict(lambda: [0, 0, Decimal("0.00")])
    for deal in deals:
        if deal.get("ContactId") is None:
            continue
        totals = per_customer[deal["ContactId"]]
        totals[0] += 1
        if deal.get("StatusId") == 2:
            totals[1] += 1
            totals[2] += _money(deal.get("Amount")) or Decimal("0.00")
    aggregates = {key: tuple(value) for key, value in per_customer.items()}
    del deals, contacts
    with psycopg.connect(db_url) as conn:
        actual_sales = {row[0]: (row[1], row[2]) for row in conn.execute(
            "SELECT id, status, deal_value FROM public.sales")}
        actual_customers = dict(conn.execute("SELECT id, is_client FROM public.customers").fetchall())
        actual_aggregates = {row[0]: (row[1], row[2], row[3]) for row in conn.execute(
            "SELECT customer_id, total_deals, won_deals, total_revenue FROM public.customer_sales")}
    problems = (_differences("sales", sales, actual_sales)
                + _differences("customers", customers, actual_customers)
                + _differences("customer_sales", aggregates, actual_aggregates)
                + (_commerce(db_url, admin) if commerce else []))
    return {
        "matched": not problems,
        "truth_deals": len(sales),
        "sales_rows": len(actual_sales),
        "truth_contacts": len(customers),
        "customers_rows": len(actual_customers),
        "customer_sales_rows": len(actual_aggregates),
        "problems": problems,
    }

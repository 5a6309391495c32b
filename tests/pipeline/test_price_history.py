"""Products, orders and quotes with their lines: synced, replaced line by line, archived, checked.

The in-process pipeline runs the DAG's tasks against the simulator, whose commerce data carries
the cases the real account has (free-text lines, fractional and zero quantities, orders without a
deal, won deals without a won quote). After each run the warehouse equals the simulator's truth.
"""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from typing import Any

import psycopg
import pytest

from ploomes_devkit.pipeline import Pipeline
from ploomes_sync import records
from ploomes_sync.config import SyncConfig
from ploomes_sync.monitoring.report import read_report
from ploomes_sync.tasks import ValidationMismatch

FULL_LISTING = dataclasses.replace(SyncConfig(), full_listing_every_hours=0)


def cents(value: Any) -> Decimal | None:
    return None if value is None else Decimal(repr(value) if isinstance(value, float) else value).quantize(
        Decimal("0.01"))


def ploomes_lines(sim, entity: str) -> dict[int, tuple]:
    """Every line of every order (quote) in Ploomes: id -> (parent, product, quantity, unit price, total)."""
    parent = "OrderId" if entity == "orders" else "QuoteId"
    return {line["Id"]: (line[parent], line["ProductId"], Decimal(repr(line["Quantity"])).quantize(Decimal("0.0001")),
                         cents(line["UnitPrice"]), cents(line["Total"]))
            for record in sim.admin.truth(entity) for line in record["Products"]}


def warehouse_lines(db_url: str, table: str) -> dict[int, tuple]:
    parent = "order_id" if table == "order_items" else "quote_id"
    with psycopg.connect(db_url) as conn:
        rows = conn.execute(f"SELECT id, {parent}, product_id, quantity, unit_price, line_total FROM public.{table}")
        return {row[0]: tuple(row[1:]) for row in rows}


def ids(db_url: str, table: str) -> set[int]:
    with psycopg.connect(db_url) as conn:
        return {row[0] for row in conn.execute(f"SELECT id FROM public.{table}")}


def truth_ids(sim, entity: str) -> set[int]:
    return {record["Id"] for record in sim.admin.truth(entity)}


def assert_equal_to_ploomes(sim, db_url: str) -> None:
    for entity, table in (("products", "products"), ("orders", "orders"), ("quotes", "quotes")):
        assert ids(db_url, table) == truth_ids(sim, entity), table
    assert warehouse_lines(db_url, "order_items") == ploomes_lines(sim, "orders")
    assert warehouse_lines(db_url, "quote_items") == ploomes_lines(sim, "quotes")
    with psycopg.connect(db_url) as conn:
        orders = dict(conn.execute("SELECT id, amount FROM public.orders").fetchall())
        prices = dict(conn.execute("SELECT id, unit_price FROM public.products").fetchall())
        quotes = dict(conn.execute("SELECT id, won_quote_id FROM public.sales").fetchall())
    assert orders == {o["Id"]: cents(o["Amount"]) for o in sim.admin.truth("orders")}
    assert prices == {p["Id"]: cents(p["UnitPrice"]) for p in sim.admin.truth("products")}
    assert quotes == {d["Id"]: d["WonQuoteId"] for d in sim.admin.truth_deals()}


def test_the_commerce_streams_are_synced_line_by_line_and_checked(sim, db_url) -> None:
    pipeline = Pipeline(db_url, config=FULL_LISTING)
    first = pipeline.run(run_id="first")
    assert first.status == "success", first.failed
    assert_equal_to_ploomes(sim, db_url)
    check = first.results["validate_by_year"]
    for stream in ("products", "orders", "quotes"):
        assert check[stream]["compared"] == len(truth_ids(sim, stream)) and check[stream]["differing"] == 0
    lines = [line for order in sim.admin.truth("orders") for line in order["Products"]]
    assert any(line["ProductId"] is None for line in lines)  # the data holds the cases the view must serve
    assert any(line["Quantity"] == 0 for line in lines) and any(not float(line["Quantity"]).is_integer()
                                                                 for line in lines)
    assert any(order["DealId"] is None for order in sim.admin.truth("orders"))


def test_the_per_year_table_counts_orders_beside_deals(sim, db_url) -> None:
    first = Pipeline(db_url, config=FULL_LISTING).run(run_id="first")
    assert first.status == "success", first.failed
    with psycopg.connect(db_url) as conn:
        (table,) = conn.execute("SELECT year_table FROM ploomes_sync.run_history WHERE run_id = 'first'").fetchone()
    expected: dict[int, list] = {}
    for order in sim.admin.truth("orders"):
        year = records.parse_instant(order["Date"]).astimezone(records._LOCAL).year
        entry = expected.setdefault(year, [0, Decimal("0.00")])
        entry[0] += 1
        entry[1] += cents(order["Amount"])
    got = {row["year"]: [row["ploomes_orders"], Decimal(row["ploomes_order_amount"])] for row in table
           if row["ploomes_orders"]}
    assert got == expected
    assert all(row["ok"] and row["orders_diff"] == 0 and Decimal(row["order_amount_diff"]) == 0 for row in table)
    assert {"ploomes_deals", "warehouse_won_revenue", "revenue_diff"} <= set(table[0])


def test_a_reread_order_replaces_its_lines_and_deletions_of_each_kind_are_archived(sim, db_url) -> None:
    pipeline = Pipeline(db_url, config=FULL_LISTING)
    assert pipeline.run(run_id="first").status == "success"
    orders = sim.admin.truth("orders")
    changed = next(o for o in orders if len(o["Products"]) >= 2)
    kept, dropped = changed["Products"][0], changed["Products"][1]
    product = sim.admin.truth("products")[0]
    sim.admin.update("orders", changed["Id"], Products=[
        {**{k: kept[k] for k in ("Id", "ProductId", "ProductName", "UnitPrice", "Discount")}, "Quantity": 3},
        {"ProductId": product["Id"], "Quantity": 2.5, "UnitPrice": 50.0, "Discount": 10}])
    gone_order = next(o for o in orders if o["Id"] != changed["Id"])
    gone_quote = sim.admin.truth("quotes")[0]
    gone_product = sim.admin.truth("products")[-1]
    for entity, record in (("orders", gone_order), ("quotes", gone_quote), ("products", gone_product)):
        sim.admin.delete(entity, record["Id"])

    second = pipeline.run(run_id="second")
    assert second.status == "success", second.failed
    assert_equal_to_ploomes(sim, db_url)
    lines = warehouse_lines(db_url, "order_items")
    assert dropped["Id"] not in lines and lines[kept["Id"]][2] == Decimal("3.0000")
    added = [line for line_id, line in lines.items() if line[0] == changed["Id"] and line_id != kept["Id"]]
    assert added == [(changed["Id"], product["Id"], Decimal("2.5000"), Decimal("50.00"), Decimal("112.50"))]
    assert not any(line[0] == gone_order["Id"] for line in lines.values())
    with psycopg.connect(db_url) as conn:
        for archive, record in (("deleted_orders", gone_order), ("deleted_quotes", gone_quote),
                                ("deleted_products", gone_product)):
            assert conn.execute(f"SELECT id FROM ploomes_sync.{archive}").fetchall() == [(record["Id"],)]
        history = conn.execute("SELECT count(*) FROM public.product_prices WHERE product_id = %s",
                               [gone_product["Id"]]).fetchone()
    assert history == (1,)  # a product deleted in Ploomes keeps its price history
    assert second.results["reconcile_deletions"]["orders"]["deleted"] == 1
    with psycopg.connect(db_url) as conn:  # the health page shows them with no change of its own
        report = read_report(conn, stale_after_seconds=3600)
    assert {t: report.deletions_30d[t] for t in ("orders", "quotes", "products")} == dict.fromkeys(
        ("orders", "quotes", "products"), 1)
    assert {d["table"] for d in report.deletions} >= {"orders", "quotes", "products"}
    loaded = second.results["load_orders"]
    assert loaded["lines_removed"] == len(changed["Products"]) - 1 and loaded["lines_written"] == 2


def test_each_catalogue_price_seen_opens_a_period_of_product_prices(sim, db_url) -> None:
    pipeline = Pipeline(db_url, config=FULL_LISTING)
    assert pipeline.run(run_id="first").status == "success"
    product = sim.admin.truth("products")[2]
    first_seen = records.parse_instant(product["LastUpdateDate"])

    raised = sim.admin.update("products", product["Id"], UnitPrice=123.45)
    assert pipeline.run(run_id="second").status == "success"
    created = sim.admin.create("products", Name="Sonho de creme", UnitPrice=9.9)
    assert pipeline.run(run_id="third").status == "success"

    with psycopg.connect(db_url) as conn:
        history = conn.execute("SELECT unit_price, valid_from, valid_to FROM public.product_prices "
                               "WHERE product_id = %s ORDER BY valid_from", [product["Id"]]).fetchall()
        new = conn.execute("SELECT unit_price, valid_from, valid_to FROM public.product_prices WHERE product_id = %s",
                           [created["Id"]]).fetchall()
        unchanged = conn.execute("SELECT count(*) FROM public.product_prices WHERE valid_to IS NOT NULL").fetchone()
    changed_at = records.parse_instant(raised["LastUpdateDate"])
    assert history == [(cents(product["UnitPrice"]), first_seen, changed_at), (Decimal("123.45"), changed_at, None)]
    # created after the sync began: its first price is valid from its CreateDate
    assert new == [(Decimal("9.90"), records.parse_instant(created["CreateDate"]), None)]
    assert unchanged == (1,)  # the runs that saw the same prices again opened nothing


def test_an_order_with_an_unreadable_line_is_set_aside_whole_and_never_deleted(sim, db_url) -> None:
    pipeline = Pipeline(db_url, config=FULL_LISTING)
    assert pipeline.run(run_id="first").status == "success"
    order = sim.admin.truth("orders")[0]
    bad_lines = [dict(line) for line in order["Products"]]
    bad_lines[0]["Quantity"] = "três"
    sim.admin._call("PATCH", f"orders/{order['Id']}?raw=1", {"Products": bad_lines, "LastUpdateDate":
                                                            "2099-01-01T00:00:00-03:00"})
    second = pipeline.run(run_id="second")
    assert second.status == "success", second.failed
    with psycopg.connect(db_url) as conn:
        reasons = conn.execute("SELECT record_id, reason FROM ploomes_sync.rejects WHERE stream = 'orders'").fetchall()
    assert (str(order["Id"]), "Products[0].Quantity: expected a number or null, got str 'três'") in reasons
    assert order["Id"] in ids(db_url, "orders")  # the last good version stays, lines and all
    assert any(line[0] == order["Id"] for line in warehouse_lines(db_url, "order_items").values())


def test_the_check_fails_naming_an_order_the_warehouse_holds_wrong(sim, db_url) -> None:
    assert Pipeline(db_url, config=FULL_LISTING).run(run_id="first").status == "success"
    wrong = sim.admin.truth("orders")[5]["Id"]

    def corrupt(task: str) -> None:
        if task == "validate_by_year":
            with psycopg.connect(db_url) as conn:
                conn.execute("UPDATE public.orders SET amount = amount + 1 WHERE id = %s", [wrong])

    with pytest.raises(ValidationMismatch) as failure:
        Pipeline(db_url, config=FULL_LISTING, before=corrupt).run(run_id="corrupted")
    assert "orders" in str(failure.value) and str(wrong) in str(failure.value)


def test_an_expanded_read_that_times_out_goes_on_with_smaller_pages_and_says_so(sim, db_url, caplog) -> None:
    sim.admin.configure(expand_timeout_top=30)  # pages of more than 30 orders (quotes) with lines time out
    run = Pipeline(db_url, config=FULL_LISTING).run(run_id="first")
    assert run.status == "success", run.failed
    assert_equal_to_ploomes(sim, db_url)
    asked = {(r["path"], r["query"].get("$top"), r["status"]) for r in sim.admin.requests()
             if r["path"] in ("/Orders", "/Quotes") and "$expand" in r["query"]}
    # 300 (the default expanded_page_size), then half of it each time, each tried twice: 150, 75, 37, 18
    assert {top for path, top, status in asked if path == "/Orders" and status == 504} == {"300", "150", "75", "37"}
    assert {top for path, top, status in asked if path == "/Orders" and status == 200} == {"18"}
    assert "reading on with pages of 18" in caplog.text


def test_other_failures_of_an_expanded_read_keep_their_retries_and_its_page_size(sim, db_url, caplog) -> None:
    # three broken answers in a row: more than a heavy page's two attempts, fewer than the five retries
    sim.admin.set_faults(schedule=[{"kind": "malformed", "count": 3, "after": 1, "path": "/Orders"}])
    run = Pipeline(db_url, config=FULL_LISTING).run(run_id="first")
    assert run.status == "success", run.failed
    assert_equal_to_ploomes(sim, db_url)
    assert "reading on with pages of" not in caplog.text
    broken = [r for r in sim.admin.requests() if r["path"] == "/Orders" and r["fault"] == "malformed"]
    assert len(broken) == 3 and {r["query"].get("$top") for r in broken} == {"300"}

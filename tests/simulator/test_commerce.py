"""The simulator speaks commerce as the API is known to (``shared/ploomes-api.md``, "Orders, quotes and products").

``/Products``, ``/Orders`` and ``/Quotes`` with their lines under ``$expand=Products`` (nested
``$select`` and ``$expand=Product``), the flat ``/Orders@Products``, ``Discount`` a percentage,
the deals' quote and order ids, deletions that vanish, and webhook deliveries for orders and
products with ``Entity`` plural.
"""

from __future__ import annotations

from collections import Counter
from decimal import Decimal

import pytest

from ploomes_simulator import RunningSimulator
from ploomes_simulator.commerce import line_total, product_count
from tests.simulator.test_webhooks import Catcher, catcher, subscribe  # noqa: F401 (the fixture)

PRODUCTION_EXPAND = "Products($select=Id,ProductId,Quantity,UnitPrice,Discount;$expand=Product($select=Id,Code))"


def test_orders_expand_their_lines_with_nested_select_and_product(api, sim) -> None:
    order = next(o for o in sim.admin.truth("orders") if any(line["ProductId"] for line in o["Products"]))
    (found,) = api.values("/Orders", **{"$filter": f"Id eq {order['Id']}", "$expand": PRODUCTION_EXPAND})
    codes = {p["Id"]: p["Code"] for p in sim.admin.truth("products")}
    assert [set(line) for line in found["Products"]] == [
        {"Id", "ProductId", "Quantity", "UnitPrice", "Discount", "Product"}] * len(order["Products"])
    for line, stored in zip(found["Products"], order["Products"], strict=True):
        expected = None if stored["ProductId"] is None else {"Id": stored["ProductId"],
                                                             "Code": codes[stored["ProductId"]]}
        assert line["Product"] == expected and line["Quantity"] == stored["Quantity"]
    (plain,) = api.values("/Orders", **{"$filter": f"Id eq {order['Id']}"})
    assert "Products" not in plain, "lines come only when expanded"


def test_an_unknown_line_property_or_navigation_is_a_400(api) -> None:
    assert api.get("/Orders", {"$expand": "Products($select=Nope)"}).status_code == 400
    assert api.get("/Orders", {"$expand": "Products($expand=Deal)"}).status_code == 400
    assert api.get("/Deals", {"$expand": "Products"}).status_code == 400


def test_order_lines_are_a_flat_set_too(api, sim) -> None:
    lines = api.keyset("/Orders@Products")
    stored = [line for order in sim.admin.truth("orders") for line in order["Products"]]
    assert sorted(line["Id"] for line in lines) == sorted(line["Id"] for line in stored)
    quote_lines = api.keyset("/Quotes@Products")
    assert len(quote_lines) == sum(len(q["Products"]) for q in sim.admin.truth("quotes"))


def test_discount_is_a_percentage_and_amount_follows_the_lines(sim) -> None:
    assert line_total(3, 50.0, 10) == 135.0
    product = sim.admin.truth("products")[0]
    order = sim.admin.create("orders", Products=[{"ProductId": product["Id"], "Quantity": 3, "UnitPrice": 50.0,
                                                  "Discount": 10}, {"ProductName": "Frete", "UnitPrice": 20}])
    assert [line["Total"] for line in order["Products"]] == [135.0, 20.0] and order["Amount"] == 155.0
    assert order["Products"][0]["ProductName"] == product["Name"] and order["Products"][0]["OrderId"] == order["Id"]
    for stored in sim.admin.truth("orders"):
        for line in stored["Products"]:
            gross = Decimal(repr(line["Quantity"])) * Decimal(repr(line["UnitPrice"]))
            assert abs(Decimal(repr(line["Total"])) - gross * (100 - Decimal(repr(line["Discount"]))) / 100) < \
                Decimal("0.006")


def test_the_data_carries_the_cases_seen_in_production(sim) -> None:
    deals = {d["Id"]: d for d in sim.admin.truth_deals()}
    quotes = sim.admin.truth("quotes")
    orders = sim.admin.truth("orders")
    assert len(sim.admin.truth("products")) == product_count(len(deals))
    by_deal = Counter(q["DealId"] for q in quotes)
    for deal in deals.values():
        if deal["LastQuoteId"] is not None:
            latest = max((q for q in quotes if q["DealId"] == deal["Id"]), key=lambda q: q["Id"])
            assert latest["Id"] == deal["LastQuoteId"] and by_deal[deal["Id"]] >= 1
    won = [d for d in deals.values() if d["StatusId"] == 2]
    assert any(d["WonQuoteId"] is None and d["LastQuoteId"] is not None for d in won)
    assert any(d["WonQuoteId"] is not None for d in won) and any(by_deal[d["Id"]] >= 2 for d in won)
    assert any(o["DealId"] is None for o in orders)
    assert all(deals[o["DealId"]]["LastOrderId"] is not None for o in orders if o["DealId"] in deals)
    lines = [line for o in orders for line in o["Products"]]
    assert any(line["ProductId"] is None for line in lines) and any(line["Quantity"] == 0 for line in lines)
    assert any(isinstance(line["Quantity"], float) for line in lines)


@pytest.mark.parametrize("entity", ["orders", "quotes", "products"])
def test_a_deleted_record_simply_vanishes(api, sim, entity) -> None:
    first = sim.admin.truth(entity)[0]
    sim.admin.delete(entity, first["Id"])
    assert api.values(f"/{entity.title()}", **{"$filter": f"Id eq {first['Id']}"}) == []


def test_orders_and_products_deliver_webhooks_with_the_entity_plural(sim: RunningSimulator, api_key: str,
                                                                      catcher: Catcher) -> None:  # noqa: F811
    subscribe(sim, api_key, catcher.url, 4, 2)
    subscribe(sim, api_key, catcher.url, 10, 2)
    order = sim.admin.truth("orders")[0]
    product = sim.admin.truth("products")[0]
    sim.admin.update("orders", order["Id"], StageId=90002)
    sim.admin.update("products", product["Id"], UnitPrice=1.5)
    received = catcher.wait(2)
    assert sorted((body["Entity"], body["EntityId"], body["New"]["Id"]) for _, body, _ in received) == sorted([
        ("Orders", 4, order["Id"]), ("Products", 10, product["Id"])])

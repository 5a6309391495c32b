"""Deterministic products, quotes and orders (with their lines) for the generated deals.

What the real account is known to hold (``shared/ploomes-api.md``, "Orders, quotes and products"):
a deal has zero or more quotes (``LastQuoteId`` the latest), a won deal's ``WonQuoteId`` is often
null while ``LastQuoteId`` is set, some won deals have an order (``OriginQuoteId`` its quote, lines
copied from it) and some orders have no deal. Lines carry ``Discount`` as a percentage and
``Total`` = quantity x unit price less it; some lines have no product (free text), some a
fractional or a zero quantity. At 30,000 deals: about 500 products, 25,000 quotes, 8,000 orders.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from .dates import parse_ticks, render

FIRST_PRODUCT_ID = 5_000_000
FIRST_QUOTE_ID = 900_000_000
FIRST_ORDER_ID = 700_000_000
FIRST_LINE_ID = 80_000_000
_CATALOGUE = (
    ("Pão francês", "kg"), ("Baguete", "un"), ("Bolo de chocolate", "un"), ("Torta de limão", "un"),
    ("Coxinha", "cento"), ("Pão de queijo", "kg"), ("Café em grãos", "kg"), ("Farinha especial", "saco"),
    ("Forno elétrico", "un"), ("Manutenção preventiva", "h"), ("Licença anual", "un"), ("Consultoria", "h"),
    ("Panetone", "un"), ("Ovo de Páscoa", "un"), ("Croissant", "un"), ("Sonho", "un"),
)
_FREE_TEXT = ("Frete", "Serviço avulso", "Taxa de entrega", "Item sob encomenda")
_CENT = Decimal("0.01")


@dataclass
class Commerce:
    """Generated commerce records, each list sorted by Id; orders and quotes carry their ``Products``."""

    products: list[dict[str, Any]]
    quotes: list[dict[str, Any]]
    orders: list[dict[str, Any]]


def money(value: Decimal | float | int) -> float:
    """Rounded half away from zero to cents, as the API's decimals come."""
    return float(Decimal(str(value)).quantize(_CENT, rounding=ROUND_HALF_UP))


def line_total(quantity: float, unit_price: float, discount: float) -> float:
    """Ploomes' ``Total``: quantity x unit price less ``discount`` percent (3 x 50.00 at 10 -> 135.00)."""
    gross = Decimal(str(quantity)) * Decimal(str(unit_price))
    return money(gross * (100 - Decimal(str(discount))) / 100)


def amount(lines: list[dict[str, Any]], discount: float) -> float:
    """A document's ``Amount``: its lines' totals less its own ``Discount`` percent."""
    total = sum((Decimal(str(line["Total"])) for line in lines), Decimal(0))
    return money(total * (100 - Decimal(str(discount))) / 100)


def product_count(deals: int) -> int:
    """How many products an account with ``deals`` deals has (500 at 30,000)."""
    return max(5, deals // 60) if deals else 0


def generate(deals: list[dict[str, Any]], seed: int, end: int) -> Commerce:
    """Products, quotes and orders for ``deals`` (whose ``LastQuoteId``, ``WonQuoteId`` and
    ``LastOrderId`` are set here), deterministic for a given seed and data."""
    rng = random.Random(f"commerce-{seed}")
    products = _products(rng, product_count(len(deals)), end)
    lines = _LineIds()
    quotes: list[dict[str, Any]] = []
    orders: list[dict[str, Any]] = []
    quote_id, order_id, order_number = FIRST_QUOTE_ID, FIRST_ORDER_ID, 5000
    for deal in deals:
        deal["LastQuoteId"] = deal["WonQuoteId"] = deal["LastOrderId"] = None
        created = parse_ticks(deal["CreateDate"]) // 10_000_000
        deal_quotes = []
        for review in range(1, _quote_count(rng) + 1):
            quote_id += rng.randint(1, 9)
            deal_quotes.append(_quote(rng, quote_id, deal, review, created, end, products, lines))
        if deal_quotes:
            deal_quotes[-1]["LastReview"] = True
            deal["LastQuoteId"] = deal_quotes[-1]["Id"]
            quotes += deal_quotes
        won = deal["StatusId"] == 2
        if won and deal_quotes and rng.random() < 0.5:
            deal["WonQuoteId"] = rng.choice(deal_quotes)["Id"]
        if won and rng.random() < 0.6:
            origin = next((q for q in deal_quotes if q["Id"] == deal["WonQuoteId"]), None) \
                or (deal_quotes[-1] if deal_quotes else None)
            order_id += rng.randint(1, 30)
            order_number += 1
            orders.append(_order(rng, order_id, order_number, deal, origin, created, end, products, lines))
            deal["LastOrderId"] = order_id
        if rng.random() < 0.008:  # an order entered without a deal
            order_id += rng.randint(1, 30)
            order_number += 1
            orders.append(_order(rng, order_id, order_number, None, None, created, end, products, lines,
                                 contact_id=deal["ContactId"]))
    return Commerce(products, quotes, orders)


class _LineIds:
    def __init__(self) -> None:
        self.next = FIRST_LINE_ID

    def take(self, rng: random.Random) -> int:
        self.next += rng.randint(1, 5)
        return self.next


def _quote_count(rng: random.Random) -> int:
    roll = rng.random()
    return 0 if roll < 0.35 else 1 if roll < 0.85 else 2 if roll < 0.97 else 3


def _products(rng: random.Random, count: int, end: int) -> list[dict[str, Any]]:
    start = end - 4 * 365 * 86400
    records = []
    product_id = FIRST_PRODUCT_ID
    for number in range(1, count + 1):
        product_id += rng.randint(1, 20)
        name, unit = _CATALOGUE[number % len(_CATALOGUE)]
        created = start + int(rng.random() * (end - start - 86400))
        updated = created if rng.random() < 0.3 else min(end, created + 1 + int(rng.random() * 300 * 86400))
        records.append({
            "Id": product_id, "Code": f"P{number:05d}", "Name": f"{name} {number}", "GroupId": 600 + number % 7,
            "FamilyId": 60 + number % 3, "MeasurementUnit": unit, "CurrencyId": 1,
            "UnitPrice": money(rng.lognormvariate(4.0, 1.0)), "Suspended": rng.random() < 0.05,
            "ImageUrl": None, "Editable": True, "Deletable": True, "CreatorId": 40010001, "UpdaterId": 40010002,
            "CreateDate": render(created, ".123"), "LastUpdateDate": render(updated, ".456"),
        })
    return records


def _lines(rng: random.Random, products: list[dict[str, Any]], lines: _LineIds) -> list[dict[str, Any]]:
    result = []
    for _ in range(rng.choice((1, 1, 2, 2, 3, 4))):
        roll = rng.random()
        if roll < 0.04 or not products:
            product_id, name, price = None, rng.choice(_FREE_TEXT), money(rng.uniform(10, 200))
        else:
            product = rng.choice(products)
            product_id, name = product["Id"], product["Name"]
            price = money(product["UnitPrice"] * rng.uniform(0.9, 1.1))
        quantity_roll = rng.random()
        quantity: float = (0 if quantity_roll < 0.02 else round(rng.uniform(0.1, 5), 3) if quantity_roll < 0.08
                           else rng.randint(1, 20))
        discount = rng.choice((0, 0, 0, 0, 5, 10, 7.5))
        result.append({"Id": lines.take(rng), "SectionId": None, "ProductId": product_id, "ProductName": name,
                       "Quantity": quantity, "CurrencyId": 1, "UnitPrice": price, "Discount": discount,
                       "Total": line_total(quantity, price, discount)})
    return result


def _quote(rng: random.Random, quote_id: int, deal: dict[str, Any], review: int, created: int, end: int,
           products: list[dict[str, Any]], lines: _LineIds) -> dict[str, Any]:
    date = min(end, created + review * int(rng.random() * 10 * 86400))
    updated = min(end, date + int(rng.random() * 5 * 86400))
    quote_lines = [{"QuoteId": quote_id, **line} for line in _lines(rng, products, lines)]
    discount = rng.choice((0, 0, 0, 5))
    return {
        "Id": quote_id, "DealId": deal["Id"], "ContactId": deal["ContactId"], "Date": render(date, ".2"),
        "QuoteNumber": quote_id - FIRST_QUOTE_ID, "ReviewNumber": review, "LastReview": False,
        "ApprovalStatusId": rng.choice((1, 2, 2, 3)), "CurrencyId": 1, "Amount": amount(quote_lines, discount),
        "Discount": discount, "ExpirationDate": render(date + 30 * 86400), "CreateDate": render(date, ".2"),
        "LastUpdateDate": render(updated, ".75"), "Products": quote_lines,
    }


def _order(rng: random.Random, order_id: int, number: int, deal: dict[str, Any] | None,
           origin: dict[str, Any] | None, created: int, end: int, products: list[dict[str, Any]],
           lines: _LineIds, contact_id: int | None = None) -> dict[str, Any]:
    finish = deal.get("FinishDate") if deal else None
    date = parse_ticks(finish) // 10_000_000 if isinstance(finish, str) else min(end, created + 86400)
    updated = min(end, date + int(rng.random() * 3 * 86400))
    contact_id = deal["ContactId"] if deal else contact_id
    base = [{key: value for key, value in line.items() if key != "QuoteId"} for line in origin["Products"]] \
        if origin else _lines(rng, products, lines)
    order_lines = [{"OrderId": order_id, "OrderDate": render(date), "DealId": deal["Id"] if deal else None,
                    "ContactId": contact_id, **line, "Id": lines.take(rng), "Bonus": False} for line in base]
    discount = 0
    return {
        "Id": order_id, "OrderNumber": number, "Date": render(date), "ContactId": contact_id,
        "ContactName": deal.get("ContactName") if deal else None, "PersonId": None,
        "DealId": deal["Id"] if deal else None, "StageId": 90001, "Amount": amount(order_lines, discount),
        "Discount": discount, "OwnerId": deal["OwnerId"] if deal else 40010001, "TemplateId": None,
        "OriginQuoteId": origin["Id"] if origin else None, "CreatorId": 40010001, "UpdaterId": 40010001,
        "CreateDate": render(date, ".5"), "LastUpdateDate": render(updated, ".25"), "Products": order_lines,
    }

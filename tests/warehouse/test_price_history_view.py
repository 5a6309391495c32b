"""``public.customer_price_history``, the view the price-history modal reads, against rows worked out by hand.

One customer has: a won deal with an order (its quote's lines stay out), an order without a deal,
a won deal with two quotes and neither quote id (the latest quote counts), a won deal whose
won quote is set (it wins over the last one), one with only the last quote set (it wins over a
later quote), an open and a lost deal with quotes (never shown), a free-text line, a zero
quantity, a product gone from the catalogue and a net price that rounds half away from zero.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal as D

import psycopg
import pytest

from ploomes_sync import tasks


def at(day: str) -> datetime:
    return datetime.fromisoformat(day).replace(tzinfo=UTC)


@pytest.fixture
def warehouse(db_url: str) -> str:
    with psycopg.connect(db_url) as conn:
        tasks.migrate_schema(conn)
        conn.execute("""
            INSERT INTO public.products (id, code, name, unit_price) VALUES (1, 'A1', 'Pão', 50), (2, 'B2', 'Bolo', 40);
            INSERT INTO public.sales (id, customer_id, status, won, created_at, closed_at, last_quote_id, won_quote_id)
            VALUES (10, 100, 'won', true, '2024-01-20Z', '2024-01-30Z', 500, NULL),
                   (11, 100, 'won', true, '2024-02-20Z', '2024-03-10Z', NULL, NULL),
                   (12, 100, 'won', true, '2024-04-01Z', NULL, 504, 503),
                   (13, 100, 'won', true, '2024-05-20Z', '2024-06-01Z', 505, NULL),
                   (14, 100, 'open', false, '2024-05-20Z', NULL, 507, NULL),
                   (15, 100, 'lost', false, '2024-05-20Z', '2024-05-25Z', 508, NULL),
                   (16, 200, 'won', true, '2024-05-20Z', '2024-05-25Z', NULL, NULL);
            INSERT INTO public.orders (id, deal_id, customer_id, ordered_at, amount)
            VALUES (1000, 10, 100, '2024-02-01Z', 155), (1001, NULL, 100, '2024-05-01Z', 100.05);
            INSERT INTO public.order_items (id, order_id, customer_id, ordered_at, product_id, product_name, quantity,
                                            unit_price, discount_percent, line_total, currency_id)
            VALUES (1, 1000, 100, '2024-02-01Z', 1, 'Pão (nome antigo)', 3, 50, 10, 135, 1),
                   (2, 1000, 100, '2024-02-01Z', NULL, 'Frete', 1, 20, 0, 20, 1),
                   (3, 1001, 100, '2024-05-01Z', 3, 'Torta antiga', 0, 10, 0, 0, 1),
                   (4, 1001, 100, '2024-05-01Z', 2, 'Bolo', 3, 33.34, 0, 100, 1),
                   (5, 1001, 100, '2024-05-01Z', 2, 'Bolo', 2, 0.03, 16.6667, 0.05, 1);
            INSERT INTO public.quotes (id, deal_id, customer_id, quoted_at, amount)
            VALUES (500, 10, 100, '2024-01-25Z', 1), (501, 11, 100, '2024-03-01Z', 1),
                   (502, 11, 100, '2024-03-05Z', 80),
                   (503, 12, 100, '2024-03-20Z', 55), (504, 12, 100, '2024-03-25Z', 1),
                   (505, 13, 100, '2024-05-21Z', 171), (506, 13, 100, '2024-05-28Z', 1),
                   (507, 14, 100, '2024-05-21Z', 1), (508, 15, 100, '2024-05-21Z', 1);
            INSERT INTO public.quote_items (id, quote_id, customer_id, product_id, product_name, quantity, unit_price,
                                            discount_percent, line_total, currency_id)
            VALUES (10, 500, 100, 1, 'Pão', 9, 1, 0, 9, 1), (11, 501, 100, 2, 'Bolo', 9, 1, 0, 9, 1),
                   (12, 502, 100, 2, 'Bolo', 2, 40, 0, 80, 1), (13, 503, 100, 1, 'Pão', 1, 55, 0, 55, 1),
                   (14, 504, 100, 1, 'Pão', 9, 1, 0, 9, 1), (15, 505, 100, 1, 'Pão', 4, 45, 5, 171, 1),
                   (16, 506, 100, 1, 'Pão', 9, 1, 0, 9, 1), (17, 507, 100, 1, 'Pão', 9, 1, 0, 9, 1),
                   (18, 508, 100, 1, 'Pão', 9, 1, 0, 9, 1);
        """)
    return db_url


# customer, product, code, name, sold_at, quantity, unit price, discount, net unit price, total, currency,
# source, source id, deal
EXPECTED = [
    (100, 1, "A1", "Pão", at("2024-02-01"), D("3"), D("50"), D("10"), D("45.00"), D("135"), 1, "order", 1000, 10),
    (100, 1, "A1", "Pão", at("2024-04-01"), D("1"), D("55"), D("0"), D("55.00"), D("55"), 1, "quote", 503, 12),
    (100, 1, "A1", "Pão", at("2024-06-01"), D("4"), D("45"), D("5"), D("42.75"), D("171"), 1, "quote", 505, 13),
    (100, 2, "B2", "Bolo", at("2024-03-10"), D("2"), D("40"), D("0"), D("40.00"), D("80"), 1, "quote", 502, 11),
    (100, 2, "B2", "Bolo", at("2024-05-01"), D("2"), D("0.03"), D("16.6667"), D("0.03"), D("0.05"), 1, "order",
     1001, None),
    (100, 2, "B2", "Bolo", at("2024-05-01"), D("3"), D("33.34"), D("0"), D("33.33"), D("100"), 1, "order", 1001,
     None),
    (100, 3, None, "Torta antiga", at("2024-05-01"), D("0"), D("10"), D("0"), None, D("0"), 1, "order", 1001, None),
    (100, None, None, "Frete", at("2024-02-01"), D("1"), D("20"), D("0"), D("20.00"), D("20"), 1, "order", 1000, 10),
]


def normal(row: tuple) -> tuple:
    """Decimals as their value (3 and 3.0000 alike), for comparing rows as sets."""
    return tuple(str(value.normalize()) if isinstance(value, D) else value for value in row)


def test_the_view_gives_every_order_line_and_the_won_quote_of_each_won_deal_without_an_order(warehouse) -> None:
    with psycopg.connect(warehouse) as conn:
        rows = conn.execute("SELECT * FROM public.customer_price_history WHERE customer_id = %s "
                            "ORDER BY product_id, sold_at", [100]).fetchall()
        columns = [c.name for c in conn.execute("SELECT * FROM public.customer_price_history LIMIT 0").description]
        other = conn.execute("SELECT count(*) FROM public.customer_price_history WHERE customer_id = 200").fetchone()
    assert columns == ["customer_id", "product_id", "product_code", "product_name", "sold_at", "quantity",
                       "unit_price", "discount_percent", "net_unit_price", "line_total", "currency_id", "source",
                       "source_id", "deal_id"]
    assert sorted(map(normal, rows), key=repr) == sorted(map(normal, EXPECTED), key=repr)
    assert [row[:5] for row in rows] == [row[:5] for row in EXPECTED]  # in the modal's order
    assert other == (0,)  # a won deal without quote or order has nothing to show


def test_the_view_reads_with_the_readers_row_level_security(warehouse) -> None:
    with psycopg.connect(warehouse) as conn:
        options = conn.execute("SELECT reloptions FROM pg_class WHERE oid = 'public.customer_price_history'::regclass"
                               ).fetchone()
        forced = conn.execute("SELECT relname FROM pg_class WHERE relname IN ('products', 'product_prices', 'orders', "
                              "'order_items', 'quotes', 'quote_items') AND relnamespace = 'public'::regnamespace "
                              "AND NOT relrowsecurity").fetchall()
    assert options == (["security_invoker=true"],)
    assert forced == []

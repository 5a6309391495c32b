"""ploomes_sync.warehouse.aggregate_customer_sales: every column rule of the contract, on a hand-built set."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import psycopg

from ploomes_sync import warehouse
from tests.support.streams import CONTACTS as CONTACT_STREAM
from tests.support.streams import DEALS as DEAL_STREAM

from .factories import contact, deal, list_ploomes, listed, load, reconcile


def d(year: int, month: int, day: int) -> datetime:
    return datetime(year, month, day, 15, tzinfo=UTC)


CONTACTS = [contact(10, name="Alfa", cnpj="11111111000111"), contact(20, name="Beta", cnpj=None),
            contact(40, name="No deals")]
DEALS = [
    deal(1, customer_id=10, status="won", deal_value=Decimal("100.00"), created_at=d(2024, 1, 5),
         closed_at=d(2024, 2, 10)),
    deal(2, customer_id=10, status="won", deal_value=None, created_at=d(2023, 11, 1), closed_at=None),
    deal(3, customer_id=10, status="won", deal_value=Decimal("50.25"), created_at=d(2024, 5, 1),
         closed_at=d(2024, 6, 1)),
    deal(4, customer_id=10, status="lost", deal_value=Decimal("999.00"), closed_at=d(2025, 1, 1)),
    deal(5, customer_id=10, status="open", deal_value=Decimal("5.00")),
    deal(6, customer_id=20, status="open", deal_value=Decimal("40.00")),
    deal(7, customer_id=30, status="won", deal_value=Decimal("10.01"), closed_at=d(2022, 1, 1)),
    deal(8, customer_id=None, status="won", deal_value=Decimal("1000.00"), closed_at=d(2021, 1, 1)),
    deal(9, customer_id=30, status="won", deal_value=Decimal("10.00"), closed_at=d(2022, 3, 1)),
]
COLUMNS = ("customer_id, customer_name, customer_cnpj, total_deals, won_deals, total_sales, total_revenue, "
           "average_deal_value, first_purchase_date, last_purchase_date")
# Worked out by hand from the contract's definitions:
EXPECTED = [
    # 3 won (one without a value, one without closed_at: it counts at created_at); lost and open count
    # as deals only; average over the two won with a value: (100 + 50.25) / 2 = 75.125 -> 75.13
    (10, "Alfa", "11111111000111", 5, 3, 3, Decimal("150.25"), Decimal("75.13"), d(2023, 11, 1),
     d(2024, 6, 1)),
    # no won deal: revenue 0, no average, no purchase dates
    (20, "Beta", None, 1, 0, 0, Decimal("0.00"), None, None, None),
    # contact unknown to customers: no name, no CNPJ; (10.01 + 10.00) / 2 = 10.005 -> 10.01
    (30, None, None, 2, 2, 2, Decimal("20.01"), Decimal("10.01"), d(2022, 1, 1), d(2022, 3, 1)),
]  # deal 8 has no customer: not aggregated; contact 40 has no deal: no row


def customer_sales(conn: psycopg.Connection) -> list[tuple]:
    with conn.transaction():
        return conn.execute(f"SELECT {COLUMNS} FROM public.customer_sales ORDER BY customer_id").fetchall()


def last_sync(conn: psycopg.Connection) -> dict[int, datetime]:
    with conn.transaction():
        return dict(conn.execute("SELECT customer_id, last_sync_at FROM public.customer_sales").fetchall())


def build(conn: psycopg.Connection, reader: psycopg.Connection | None = None) -> None:
    """Load the contacts and deals; the merges already keep customer_sales (cleared here, when asked, so
    that the aggregation alone is what a test sees)."""
    load(conn, "r1", CONTACTS, stream=CONTACT_STREAM)
    load(conn, "r1", DEALS)
    if reader is not None:
        reader.execute("DELETE FROM public.customer_sales")


class TestAggregate:
    def test_the_merges_already_keep_every_column_of_the_customers_they_touch(self, conn):
        build(conn)
        assert customer_sales(conn) == EXPECTED

    def test_every_column_follows_the_contract(self, conn, reader):
        build(conn, reader)
        result = warehouse.aggregate_customer_sales(conn)
        assert customer_sales(conn) == EXPECTED
        assert (result.rows, result.inserted, result.updated, result.deleted) == (3, 3, 0, 0)

    def test_stale_rows_are_corrected_and_customers_without_deals_lose_theirs(self, conn, reader):
        build(conn, reader)
        reader.execute("INSERT INTO public.customer_sales (customer_id, customer_name, total_deals) VALUES "
                       "(10, 'Old name', 1), (99, 'Left over', 4)")
        result = warehouse.aggregate_customer_sales(conn)
        assert customer_sales(conn) == EXPECTED
        assert (result.rows, result.inserted, result.updated, result.deleted) == (3, 2, 1, 1)

    def test_a_customer_whose_last_deal_disappears_loses_its_row(self, conn):
        build(conn)
        listing = list_ploomes(conn, "check", [listed(n) for n in range(1, 10) if n != 6])
        assert reconcile(conn, DEAL_STREAM, listing, lambda *counts: None).archived == 1
        assert [row[0] for row in customer_sales(conn)] == [10, 30]  # already, in the reconcile's transaction
        result = warehouse.aggregate_customer_sales(conn)
        assert [row[0] for row in customer_sales(conn)] == [10, 30]
        assert (result.rows, result.inserted, result.updated, result.deleted) == (2, 0, 0, 0)

    def test_aggregating_again_changes_no_value_but_stamps_last_sync_at(self, conn):
        build(conn)
        warehouse.aggregate_customer_sales(conn)
        before = last_sync(conn)
        result = warehouse.aggregate_customer_sales(conn)
        assert (result.inserted, result.updated, result.unchanged, result.deleted) == (0, 0, 3, 0)
        assert customer_sales(conn) == EXPECTED
        after = last_sync(conn)
        assert all(after[key] > before[key] for key in before)

    def test_a_renamed_contact_reaches_customer_sales(self, conn):
        build(conn)
        warehouse.aggregate_customer_sales(conn)
        renamed = contact(10, name="Alfa Renomeada", cnpj="11111111000111", updated_at=d(2025, 1, 1))
        assert load(conn, "r2", [renamed], stream=CONTACT_STREAM).customers == 1  # in the merge's transaction
        assert customer_sales(conn)[0][1] == "Alfa Renomeada"
        assert warehouse.aggregate_customer_sales(conn).updated == 0

    def test_no_sales_leaves_the_table_empty(self, conn):
        result = warehouse.aggregate_customer_sales(conn)
        assert (result.rows, result.deleted) == (0, 0) and customer_sales(conn) == []

    def test_readers_are_not_blocked_while_it_runs(self, conn, connect, reader, pool):
        build(conn)
        warehouse.aggregate_customer_sales(conn)
        holder = connect()
        holder.execute("SELECT count(*) FROM public.customer_sales")  # a dashboard query in a transaction
        assert pool.submit(warehouse.aggregate_customer_sales, connect()).result(timeout=10).rows == 3
        holder.rollback()

"""ploomes_sync.warehouse.reconcile: rows gone from Ploomes are archived, then removed; nothing else is."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import psycopg
import pytest

from ploomes_sync import warehouse
from tests.support.streams import CONTACTS, DEALS

from .factories import at, contact, contact_listed, deal, list_ploomes, listed, load, now, reconcile


def ids(conn: psycopg.Connection, table: str = "public.sales") -> list[int]:
    with conn.transaction():
        return [row[0] for row in conn.execute(f"SELECT id FROM {table} ORDER BY id").fetchall()]


def allow(*counts: int) -> None:
    """A guard that lets every deletion through."""


def list_and_reconcile(conn, listing: list[int], guard=allow, **kwargs) -> int:
    started = kwargs.pop("started_wh", None) or now(conn)
    done = reconcile(conn, DEALS, list_ploomes(conn, "check", [listed(n) for n in listing],
                                                         started_wh=started, **kwargs), guard)
    return done.archived


class TestReconcile:
    def test_deals_missing_from_the_listing_are_archived_then_removed(self, conn):
        gone = deal(2, title="gone\there", status="won", closed_at=at(3))
        load(conn, "r1", [deal(1), gone, deal(3), deal(4)])
        before = now(conn)
        assert list_and_reconcile(conn, [1, 3, 4]) == 1
        assert ids(conn) == [1, 3, 4]
        with conn.transaction():
            archived = conn.execute(
                "SELECT id, title, status, won, closed_at, deleted_at >= %s, run_id, row_data ->> 'title' "
                "FROM ploomes_sync.deleted_sales", [before]).fetchall()
        assert archived == [(2, "gone\there", "won", True, at(3), True, "check", "gone\there")]

    def test_rows_written_after_the_listing_started_are_not_judged(self, conn):
        load(conn, "r1", [deal(1), deal(2)])
        listing_started = now(conn)
        load(conn, "r2", [deal(3)])  # a concurrent run wrote it while the listing was paging
        assert list_and_reconcile(conn, [1, 5], started_wh=listing_started) == 1
        assert ids(conn) == [1, 3]

    def test_every_row_of_a_listed_range_is_judged_up_to_the_highest_id(self, conn):
        load(conn, "r1", [deal(1), deal(5), deal(9)])
        assert list_and_reconcile(conn, [1, 7]) == 2  # 5 and 9 are gone: the listing covers (-inf, inf)
        assert ids(conn) == [1]

    def test_only_the_ranges_a_listing_listed_are_judged(self, conn):
        load(conn, "r1", [deal(n) for n in (1, 5, 9, 15, 20)])
        ranges = [warehouse.IdRange(None, 8, listed=False, ploomes_count=2, warehouse_count=2),  # counted equal
                  warehouse.IdRange(8, 16, listed=True),
                  warehouse.IdRange(16, None, listed=False, ploomes_count=1, warehouse_count=1)]
        assert list_and_reconcile(conn, [9], ranges=ranges, method="count") == 1  # 15 only
        assert ids(conn) == [1, 5, 9, 20]

    def test_only_deals_created_within_a_date_range_runs_scope_are_judged(self, conn):
        load(conn, "r1", [deal(1, created_at=at(-60)), deal(2, created_at=at(0)), deal(3, created_at=at(59)),
                          deal(4, created_at=at(60)), deal(5, created_at=at(0))])
        archived = list_and_reconcile(conn, [5], created_from=at(0), created_to=at(60))
        assert archived == 2 and ids(conn) == [1, 4, 5]

    def test_a_record_the_listing_set_aside_keeps_its_row(self, conn):
        load(conn, "r1", [deal(1), deal(2), deal(3)])
        listing = list_ploomes(conn, "check", [listed(1)])
        warehouse.stage_rejects(conn, "check", "deals_listing", [("2", "StatusId: expected 1, 2 or 3, got 9", "{}")])
        assert reconcile(conn, DEALS, listing, allow).archived == 1  # 3 is gone; 2 exists, unreadable
        assert ids(conn) == [1, 2]

    def test_a_listing_with_rejects_that_name_no_record_deletes_nothing(self, conn):
        load(conn, "r1", [deal(1), deal(2)])
        listing = list_ploomes(conn, "check", [listed(1)], rejected_without_id=1)
        done = reconcile(conn, DEALS, listing, allow)
        assert (done.gone, done.archived) == (1, 0) and "without a usable Id" in done.refused
        assert ids(conn) == [1, 2]

    def test_the_guard_sees_the_counts_and_refusing_deletes_nothing(self, conn):
        load(conn, "r1", [deal(n) for n in range(1, 11)])
        seen = []

        def refuse(scope: int, judged: int, gone: list[int]) -> None:
            seen.append((scope, judged, len(gone)))
            raise RuntimeError("mass deletion")

        with pytest.raises(RuntimeError, match="mass deletion"):
            list_and_reconcile(conn, [1, 2, 3], guard=refuse)
        assert seen == [(10, 10, 7)]
        assert ids(conn) == list(range(1, 11)) and ids(conn, "ploomes_sync.deleted_sales") == []
        assert conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE

    def test_customer_sales_follows_in_the_same_transaction(self, conn):
        load(conn, "r1", [deal(1, customer_id=7, status="won", deal_value=Decimal("5.00")), deal(2, customer_id=7),
                          deal(3, customer_id=8)])
        done = reconcile(conn, DEALS, list_ploomes(conn, "check", [listed(2)]), allow)
        assert done.customers == 2
        with conn.transaction():
            rows = conn.execute("SELECT customer_id, total_deals, total_revenue FROM public.customer_sales").fetchall()
        assert rows == [(7, 1, Decimal("0.00"))]  # 8 lost its only deal

    def test_a_deal_deleted_restored_and_deleted_again_is_archived_twice(self, conn):
        load(conn, "r1", [deal(1), deal(2)])
        list_and_reconcile(conn, [2])
        load(conn, "r2", [deal(1, title="restored", updated_at=at(1))])
        list_and_reconcile(conn, [2])
        with conn.transaction():
            titles = conn.execute("SELECT title FROM ploomes_sync.deleted_sales WHERE id = 1 "
                                  "ORDER BY deleted_at").fetchall()
        assert titles == [("Deal 1",), ("restored",)]

    def test_columns_of_an_older_table_are_kept_in_the_archive(self, conn, reader):
        reader.execute("ALTER TABLE public.sales ADD COLUMN legacy_note text")
        try:
            load(conn, "r1", [deal(1), deal(2)])
            reader.execute("UPDATE public.sales SET legacy_note = 'from the old tool' WHERE id = 1")
            assert list_and_reconcile(conn, [2]) == 1
            archived = reader.execute("SELECT row_data FROM ploomes_sync.deleted_sales").fetchone()[0]
            assert archived["legacy_note"] == "from the old tool" and archived["id"] == 1
        finally:
            reader.execute("ALTER TABLE public.sales DROP COLUMN legacy_note")

    def test_rows_from_an_older_tool_without_synced_at_are_judged(self, conn, reader):
        load(conn, "r1", [deal(1), deal(2)])
        reader.execute("UPDATE public.sales SET synced_at = NULL")
        assert list_and_reconcile(conn, [2]) == 1

    def test_a_run_without_its_listing_staged_raises(self, conn):
        listing = warehouse.Listing("check", "deals", "listing", "full", now(conn), at(0))
        with pytest.raises(warehouse.StageMissing):
            reconcile(conn, DEALS, listing, allow)

    def test_naive_instants_are_refused(self, conn):
        with pytest.raises(ValueError, match="started_wh"):
            warehouse.record_listing_ranges(conn, warehouse.Listing("check", "deals", "listing", "full",
                                                                    datetime(2024, 1, 1), None), [])


class TestContacts:
    def test_contacts_gone_from_ploomes_are_archived_and_customer_sales_loses_their_name(self, conn):
        load(conn, "c1", [contact(1, name="Acme"), contact(2, name="Gone Ltda")], stream=CONTACTS)
        load(conn, "r1", [deal(1, customer_id=2)])
        listing = list_ploomes(conn, "check", [contact_listed(1)], stream=CONTACTS)
        done = reconcile(conn, CONTACTS, listing, allow)
        assert (done.gone, done.archived, done.customers) == (1, 1, 1)
        assert ids(conn, "public.customers") == [1] and ids(conn, "ploomes_sync.deleted_customers") == [2]
        with conn.transaction():
            assert conn.execute("SELECT customer_id, customer_name FROM public.customer_sales").fetchall() == [
                (2, None)]  # the deal stays; its contact is unknown now
            assert conn.execute("SELECT name, row_data ->> 'name' FROM ploomes_sync.deleted_customers").fetchone() == (
                "Gone Ltda", "Gone Ltda")

"""ploomes_sync.warehouse.merge: staging -> public.sales / public.customers, their watermarks and customer_sales."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import psycopg
import pytest

from ploomes_sync import warehouse
from tests.support.streams import CONTACTS, DEALS

from .conftest import wait_until, waiting_on_lock
from .factories import T0, at, contact, deal, list_ploomes, listed, load, now, reconcile, stage


def merge(conn: psycopg.Connection, run_id: str, watermark: datetime | None = None, stream=DEALS):
    return warehouse.merge(conn, stream, run_id, move_watermark=watermark is not None, watermark=watermark)


def sales(conn: psycopg.Connection, columns: str = "id, title") -> list[tuple]:
    with conn.transaction():
        return conn.execute(f"SELECT {columns} FROM public.sales ORDER BY id").fetchall()


def watermarks(conn: psycopg.Connection) -> dict[str, datetime]:
    return warehouse.get_watermarks(conn)


class TestMergeSales:
    def test_first_merge_inserts_every_row_and_derives_won_from_status(self, conn):
        rows = [deal(1, status="won", deal_value=Decimal("99.90"), closed_at=at(5)), deal(2, status="lost"),
                deal(3, status="open", customer_id=None, title="tab\there")]
        result = load(conn, "r1", rows)
        assert (result.inserted, result.updated, result.unchanged) == (3, 0, 0)
        got = sales(conn, "id, customer_id, title, deal_value, status, won, closed_at, synced_at IS NOT NULL")
        assert got == [(1, 100, "Deal 1", Decimal("99.90"), "won", True, at(5), True),
                       (2, 100, "Deal 2", Decimal("10.00"), "lost", False, None, True),
                       (3, None, "tab\there", Decimal("10.00"), "open", False, None, True)]

    def test_second_merge_counts_inserted_updated_and_unchanged(self, conn):
        load(conn, "r1", [deal(1), deal(2), deal(3)])
        result = load(conn, "r2", [deal(1), deal(2, title="renamed", updated_at=at(1)), deal(4)])
        assert (result.inserted, result.updated, result.unchanged) == (1, 1, 1)
        assert sales(conn) == [(1, "Deal 1"), (2, "renamed"), (3, "Deal 3"), (4, "Deal 4")]

    def test_an_older_staged_version_never_overwrites_a_newer_row(self, conn):
        load(conn, "r1", [deal(1, title="newer", updated_at=at(10))])
        result = load(conn, "r2", [deal(1, title="older", updated_at=at(5))])
        assert (result.inserted, result.updated, result.unchanged) == (0, 0, 1)
        assert sales(conn) == [(1, "newer")]

    def test_an_identical_version_is_left_alone_with_its_synced_at(self, conn):
        load(conn, "r1", [deal(1)])
        before = sales(conn, "id, synced_at")
        assert load(conn, "r2", [deal(1)]).unchanged == 1
        assert sales(conn, "id, synced_at") == before

    def test_a_changed_row_with_the_same_updated_at_is_rewritten(self, conn):
        load(conn, "r1", [deal(1, title="first")])
        assert load(conn, "r2", [deal(1, title="second")]).updated == 1
        assert sales(conn) == [(1, "second")]

    def test_duplicate_ids_in_staging_resolve_to_the_newest(self, conn):
        rows = [deal(1, title="v2", updated_at=at(2)), deal(1, title="v3", updated_at=at(3)),
                deal(1, title="v1", updated_at=at(1)), deal(2)]
        result = load(conn, "r1", rows)
        assert (result.inserted, result.staged) == (2, 2)
        assert sales(conn) == [(1, "v3"), (2, "Deal 2")]

    def test_a_deal_found_deleted_after_the_run_read_it_is_not_put_back(self, conn):
        load(conn, "r1", [deal(1), deal(2)])
        read_at = now(conn)  # the stale run reads before the deletion ...
        stage(conn, DEALS, "stale", [deal(1), deal(2)], read_started_wh=read_at)
        listing = list_ploomes(conn, "r2", [listed(2)])  # ... another run finds deal 1 gone
        assert reconcile(conn, DEALS, listing, lambda *counts: None).archived == 1

        result = merge(conn, "stale")

        assert (result.inserted, result.updated, result.unchanged) == (0, 0, 2)
        assert sales(conn, "id") == [(2,)]
        stage(conn, DEALS, "later", [deal(1)], read_started_wh=now(conn))  # read after: it exists again
        assert merge(conn, "later").inserted == 1

    def test_only_the_runs_own_staging_is_merged(self, conn):
        stage(conn, DEALS, "other", [deal(2)])
        load(conn, "r1", [deal(1)])
        assert sales(conn) == [(1, "Deal 1")]

    def test_a_run_without_staged_deals_raises_and_changes_nothing(self, conn):
        with pytest.raises(warehouse.StageMissing, match="run the extract"):
            merge(conn, "never-staged", watermark=at(0))
        assert watermarks(conn) == {} and conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE

    def test_a_naive_watermark_is_refused(self, conn):
        stage(conn, DEALS, "r1", [deal(1)])
        with pytest.raises(ValueError, match="timezone-aware"):
            merge(conn, "r1", watermark=datetime(2024, 1, 1))

    def test_a_connection_with_an_open_transaction_is_refused(self, conn):
        stage(conn, DEALS, "r1", [deal(1)])
        conn.execute("SELECT 1")
        with pytest.raises(warehouse.ConnectionNotIdle):
            merge(conn, "r1")
        conn.rollback()

    def test_an_autocommit_connection_works_the_same(self, reader):
        stage(reader, DEALS, "r1", [deal(1)])
        assert merge(reader, "r1", watermark=at(0)).inserted == 1
        assert warehouse.get_watermarks(reader) == {"deals": at(0)}

    def test_the_watermark_defaults_to_when_the_read_began_in_ploomes_clock(self, conn):
        stage(conn, DEALS, "r1", [deal(1)], read_started_at=at(42))
        warehouse.merge(conn, DEALS, "r1")
        assert watermarks(conn) == {"deals": at(42)}

    def test_customer_sales_of_the_touched_customers_move_in_the_same_transaction(self, conn):
        load(conn, "r1", [deal(1, customer_id=7, status="won", deal_value=Decimal("5.00")), deal(2, customer_id=8)])
        with conn.transaction():
            assert conn.execute("SELECT customer_id, total_revenue FROM public.customer_sales ORDER BY 1"
                                ).fetchall() == [(7, Decimal("5.00")), (8, Decimal("0.00"))]
        result = load(conn, "r2", [deal(1, customer_id=8, status="won", deal_value=Decimal("5.00"),
                                        updated_at=at(1))])  # the deal moved from customer 7 to 8
        assert result.customers == 2  # 7 loses its row (no deal left), 8 is recomputed
        with conn.transaction():
            assert conn.execute("SELECT customer_id, total_deals, total_revenue FROM public.customer_sales"
                                ).fetchall() == [(8, 2, Decimal("5.00"))]


class TestWatermarks:
    def test_the_watermark_moves_with_the_merge_and_never_backwards(self, conn):
        load(conn, "r1", [deal(1)], watermark=at(10))
        assert watermarks(conn) == {"deals": at(10)}
        load(conn, "r2", [deal(2)], watermark=at(5))
        assert watermarks(conn) == {"deals": at(10)}
        load(conn, "r3", [deal(3)], watermark=at(20))
        assert watermarks(conn) == {"deals": at(20)}
        with conn.transaction():
            assert conn.execute("SELECT run_id FROM ploomes_sync.watermarks").fetchone() == ("r3",)

    def test_no_watermark_given_leaves_it_alone(self, conn):
        load(conn, "r1", [deal(1)], watermark=at(10))
        load(conn, "r2", [deal(2)])
        assert watermarks(conn) == {"deals": at(10)}

    def test_a_failing_merge_moves_neither_rows_nor_watermark(self, conn):
        load(conn, "r1", [deal(1, title="kept")], watermark=at(10))
        bad = [deal(1, title="lost", updated_at=at(1)), deal(2, won=None)]
        stage(conn, DEALS, "r2", bad)
        with pytest.raises(psycopg.errors.NotNullViolation):  # public.sales.won is NOT NULL
            merge(conn, "r2", watermark=at(30))
        assert conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
        assert sales(conn) == [(1, "kept")]
        assert watermarks(conn) == {"deals": at(10)}

    def test_rows_roll_back_when_the_watermark_cannot_be_written(self, conn, reader):
        reader.execute("""
            CREATE FUNCTION ploomes_sync.test_refuse() RETURNS trigger LANGUAGE plpgsql AS
            $$ BEGIN RAISE EXCEPTION 'watermark refused'; END $$;
            CREATE TRIGGER test_refuse BEFORE INSERT OR UPDATE ON ploomes_sync.watermarks
            FOR EACH ROW EXECUTE FUNCTION ploomes_sync.test_refuse();
        """)
        try:
            stage(conn, DEALS, "r1", [deal(1)])
            with pytest.raises(psycopg.errors.RaiseException, match="watermark refused"):
                merge(conn, "r1", watermark=at(10))
            assert sales(conn) == []
        finally:
            reader.execute("DROP FUNCTION ploomes_sync.test_refuse() CASCADE")

    def test_merge_customers_moves_the_contacts_watermark_only(self, conn):
        stage(conn, CONTACTS, "r1", [contact(1), contact(2, is_client=True)])
        result = merge(conn, "r1", watermark=at(7), stream=CONTACTS)
        assert (result.inserted, result.updated, result.unchanged) == (2, 0, 0)
        assert watermarks(conn) == {"contacts": at(7)}


class TestMergeCustomers:
    def test_customers_follow_the_same_rules_as_sales(self, conn):
        stage(conn, CONTACTS, "r1", [contact(1, name="new", updated_at=at(10)), contact(2)])
        merge(conn, "r1", stream=CONTACTS)
        stage(conn, CONTACTS, "r2", [
            contact(1, name="stale", updated_at=at(5)),  # older: ignored
            contact(2),  # identical: unchanged
            contact(2, name="dup older", updated_at=at(-1)),  # duplicate id: the newest wins
            contact(3, cnpj=None, zip_code="00000001", is_client=True),
        ])
        result = merge(conn, "r2", stream=CONTACTS)
        assert (result.inserted, result.updated, result.unchanged) == (1, 0, 2)
        with conn.transaction():
            rows = conn.execute("SELECT id, name, cnpj, zip_code, is_client, created_at, updated_at "
                                "FROM public.customers ORDER BY id").fetchall()
        assert rows == [(1, "new", "12345678000190", "01310100", False, T0, at(10)),
                        (2, "Contact 2", "12345678000190", "01310100", False, T0, T0),
                        (3, "Contact 3", None, "00000001", True, T0, T0)]

    def test_a_run_without_staged_contacts_raises(self, conn):
        with pytest.raises(warehouse.StageMissing):
            merge(conn, "r1", stream=CONTACTS)


class TestConcurrency:
    def test_a_reader_sees_the_table_before_or_after_a_merge_never_half(self, conn, connect, reader, pool):
        load(conn, "r1", [deal(n) for n in range(1, 2001)])
        newer = [deal(n, title="new", updated_at=at(1)) for n in range(1, 4001)]
        stage(conn, DEALS, "r2", newer)
        blocker = connect()
        blocker.execute("SELECT 1 FROM public.sales WHERE id = 1500 FOR UPDATE")  # the merge will wait here
        merger = connect()
        merging = pool.submit(merge, merger, "r2", watermark=at(1))
        wait_until(lambda: waiting_on_lock(reader, merger, blocker))
        # rows 1..1499 are updated and none of 2001..4000 is visible yet: the merge is half-way
        assert reader.execute("SELECT count(*), count(*) FILTER (WHERE title = 'new') FROM public.sales"
                              ).fetchone() == (2000, 0)
        assert warehouse.get_watermarks(reader) == {}
        blocker.commit()
        assert merging.result(timeout=30).updated == 2000
        assert reader.execute("SELECT count(*), count(*) FILTER (WHERE title = 'new') FROM public.sales"
                              ).fetchone() == (4000, 4000)
        assert warehouse.get_watermarks(reader) == {"deals": at(1)}

    def test_a_merge_waits_for_another_run_holding_the_sales_lock(self, conn, connect, reader, pool):
        stage(conn, DEALS, "r1", [deal(1)])
        other_run = connect()
        other_run.execute("SELECT pg_advisory_xact_lock(1886220143, hashtext('sales'))")  # what merge/reconcile take
        merger = connect()
        merging = pool.submit(merge, merger, "r1")
        wait_until(lambda: waiting_on_lock(reader, merger, other_run))
        assert reader.execute("SELECT count(*) FROM public.sales").fetchone() == (0,)
        other_run.commit()
        assert merging.result(timeout=30).inserted == 1

    def test_overlapping_runs_merging_at_once_all_finish_with_the_newest_versions(self, conn, connect, pool):
        runs = {f"r{k}": [deal(n, title=f"v{k}", updated_at=at(k)) for n in range(1, 1501)][::(-1) ** k]
                for k in range(1, 5)}
        for run_id, rows in runs.items():
            stage(conn, DEALS, run_id, rows)
        futures = [pool.submit(merge, connect(), run_id, watermark=at(k))
                   for k, run_id in enumerate(runs, start=1)]
        results = [future.result(timeout=60) for future in futures]
        assert sum(r.inserted for r in results) == 1500
        assert {title for _, title in sales(conn)} == {"v4"}
        assert watermarks(conn) == {"deals": at(4)}

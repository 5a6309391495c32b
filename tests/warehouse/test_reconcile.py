"""ploomes_sync.warehouse.reconcile_deleted_sales: deals gone from Ploomes are archived, then removed."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from ploomes_sync import warehouse

from .factories import at, deal, listed


def now(conn: psycopg.Connection) -> datetime:
    with conn.transaction():
        return conn.execute("SELECT clock_timestamp()").fetchone()[0]


def load(conn: psycopg.Connection, run_key: str, rows: list[tuple]) -> None:
    warehouse.stage_rows(conn, "deals", run_key, rows)
    warehouse.merge_sales(conn, run_key, watermark=None)


def ids(conn: psycopg.Connection, table: str = "public.sales") -> list[int]:
    with conn.transaction():
        return [row[0] for row in conn.execute(f"SELECT id FROM {table} ORDER BY id").fetchall()]


def list_and_reconcile(conn, listing: list[int], **kwargs) -> int:
    started = kwargs.pop("listing_started_at", None) or now(conn)
    warehouse.stage_rows(conn, "deal_listing", "check", [listed(n) for n in listing])
    return warehouse.reconcile_deleted_sales(conn, "check", listing_started_at=started, **kwargs)


class TestReconcile:
    def test_deals_missing_from_the_listing_are_archived_then_removed(self, conn):
        gone = deal(2, title="gone\there", status="won", closed_at=at(3))
        load(conn, "r1", [deal(1), gone, deal(3), deal(4)])
        before = now(conn)
        assert list_and_reconcile(conn, [1, 3, 4]) == 1
        assert ids(conn) == [1, 3, 4]
        with conn.transaction():
            archived = conn.execute(
                "SELECT id, title, status, won, closed_at, deleted_at >= %s, run_key, row_data ->> 'title' "
                "FROM ploomes_sync.deleted_sales", [before]).fetchall()
        assert archived == [(2, "gone\there", "won", True, at(3), True, "check", "gone\there")]

    def test_rows_written_after_the_listing_started_are_not_judged(self, conn):
        load(conn, "r1", [deal(1), deal(2)])
        listing_started = now(conn)
        load(conn, "r2", [deal(3)])  # a concurrent run wrote it while the listing was paging
        assert list_and_reconcile(conn, [1, 5], listing_started_at=listing_started) == 1
        assert ids(conn) == [1, 3]

    def test_ids_beyond_the_last_listed_id_are_not_judged(self, conn):
        load(conn, "r1", [deal(1), deal(5), deal(9)])
        assert list_and_reconcile(conn, [1, 7]) == 1  # 5 is gone; 9 may be newer than the listing's pass
        assert ids(conn) == [1, 9]

    def test_only_deals_created_within_the_range_are_judged(self, conn):
        load(conn, "r1", [deal(1, created_at=at(-60)), deal(2, created_at=at(0)), deal(3, created_at=at(59)),
                          deal(4, created_at=at(60)), deal(5, created_at=at(0))])
        archived = list_and_reconcile(conn, [5], created_from=at(0), created_to=at(60))
        assert archived == 2 and ids(conn) == [1, 4, 5]

    def test_listed_deals_outside_the_range_do_not_widen_it(self, conn):
        load(conn, "r1", [deal(1, created_at=at(0)), deal(2, created_at=at(0))])
        warehouse.stage_rows(conn, "deal_listing", "check", [listed(1, created_at=at(0)),
                                                              listed(9, created_at=at(500))])
        archived = warehouse.reconcile_deleted_sales(conn, "check", listing_started_at=now(conn),
                                                     created_from=at(0), created_to=at(60))
        assert archived == 0 and ids(conn) == [1, 2]  # 2 is above the last id listed in the range

    def test_an_empty_listing_deletes_nothing_and_warns(self, conn, caplog):
        load(conn, "r1", [deal(1), deal(2)])
        with caplog.at_level(logging.WARNING, logger="ploomes_sync.warehouse.merge"):
            assert list_and_reconcile(conn, []) == 0
        assert ids(conn) == [1, 2]
        assert "listed no deals" in caplog.text and "allow_empty=True" in caplog.text

    def test_an_empty_listing_deletes_everything_in_scope_when_allowed(self, conn):
        load(conn, "r1", [deal(1, created_at=at(0)), deal(2, created_at=at(100))])
        assert list_and_reconcile(conn, [], allow_empty=True, created_from=at(0), created_to=at(60)) == 1
        assert ids(conn) == [2] and ids(conn, "ploomes_sync.deleted_sales") == [1]

    def test_a_deal_deleted_restored_and_deleted_again_is_archived_twice(self, conn):
        load(conn, "r1", [deal(1), deal(2)])
        list_and_reconcile(conn, [2])
        load(conn, "r2", [deal(1, title="restored", updated_at=at(1))])
        warehouse.drop_stage(conn, "check")
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

    def test_a_run_without_a_listing_raises(self, conn):
        with pytest.raises(warehouse.StageMissing):
            warehouse.reconcile_deleted_sales(conn, "check", listing_started_at=datetime.now(UTC))

    def test_naive_instants_are_refused(self, conn):
        warehouse.stage_rows(conn, "deal_listing", "check", [listed(1)])
        with pytest.raises(ValueError, match="listing_started_at"):
            warehouse.reconcile_deleted_sales(conn, "check", listing_started_at=datetime(2024, 1, 1))
        with pytest.raises(ValueError, match="created_to"):
            warehouse.reconcile_deleted_sales(conn, "check", listing_started_at=datetime.now(UTC),
                                              created_to=datetime(2024, 1, 1) + timedelta(days=1))

"""ploomes_sync.warehouse.history: the run's row in run_history, and the watermarks."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from psycopg.rows import dict_row

from ploomes_sync import warehouse

from .factories import at, deal, load

WATERMARKS = {"deals": datetime(2025, 1, 1, tzinfo=UTC), "contacts": datetime(2025, 1, 2, tzinfo=UTC)}


def start(conn, run_id: str = "run-1", **overrides) -> None:
    args = {"dag_id": "ploomes_sales_sync", "run_type": "scheduled", "mode": "incremental",
            "window_start": at(0), "window_end": at(60), "watermarks_before": WATERMARKS}
    args.update(overrides)
    warehouse.start_run(conn, run_id, **args)


class TestRunHistory:
    def test_a_run_round_trips_through_start_streams_usage_and_finish(self, conn):
        start(conn)
        warehouse.record_stream(conn, "run-1", "deals", fetched=120, rejected=1)
        warehouse.record_stream(conn, "run-1", "deals", inserted=100, updated=19, unchanged=0)
        warehouse.record_stream(conn, "run-1", "contacts", fetched=7)
        warehouse.record_stream(conn, "run-1", "deals", deleted=2, rejected=0)
        warehouse.add_api_usage(conn, "run-1", 10, 1)
        warehouse.add_api_usage(conn, "run-1", 5, 2)
        table = warehouse.Validation("deals", compared=1, years=[{
            "year": 2024, "ploomes_deals": 1, "warehouse_deals": 1, "deals_diff": 0,
            "ploomes_won_revenue": Decimal("1.50"), "warehouse_won_revenue": Decimal("1.50"),
            "revenue_diff": Decimal("0.00"), "differing": 0, "ok": True,
        }])
        warehouse.record_validation(conn, "run-1", year_table=table.to_json(), checks={"deals": table.summary()})
        warehouse.record_listing(conn, "run-1", "deals", {"method": "count", "requests": 12})
        warehouse.finish_run(conn, "run-1", status="success", watermarks_after={"deals": at(60), "contacts": at(60)})
        run = warehouse.get_run(conn, "run-1")
        assert run["streams"] == {"deals": {"fetched": 120, "rejected": 0, "inserted": 100, "updated": 19,
                                            "unchanged": 0, "deleted": 2}, "contacts": {"fetched": 7}}
        assert (run["api_requests"], run["throttled"]) == (15, 3)
        assert (run["dag_id"], run["run_type"], run["mode"], run["status"]) == (
            "ploomes_sales_sync", "scheduled", "incremental", "success")
        assert (run["window_start"], run["window_end"]) == (at(0), at(60))
        assert run["watermarks_before"] == {key: value.isoformat() for key, value in WATERMARKS.items()}
        assert run["watermarks_after"] == {"deals": at(60).isoformat(), "contacts": at(60).isoformat()}
        assert run["year_table"] == table.to_json() and run["error"] is None
        assert run["checks"]["deals"]["compared"] == 1 and run["listing"] == {"deals": {"method": "count",
                                                                                         "requests": 12}}
        assert run["finished_at"] >= run["started_at"]

    def test_starting_again_reopens_the_run_and_keeps_its_start(self, conn):
        start(conn)
        first = warehouse.get_run(conn, "run-1")
        warehouse.record_stream(conn, "run-1", "deals", fetched=3)
        warehouse.finish_run(conn, "run-1", status="failed", error="boom")
        start(conn, mode="full")
        run = warehouse.get_run(conn, "run-1")
        assert (run["status"], run["mode"], run["error"]) == ("running", "full", None)
        assert run["finished_at"] is None
        assert run["started_at"] == first["started_at"] and run["streams"] == {"deals": {"fetched": 3}}

    def test_a_failure_recorded_before_the_run_started_still_lands(self, conn):
        warehouse.finish_run(conn, "early", status="failed", error="migrate_schema: boom")
        run = warehouse.get_run(conn, "early")
        assert (run["status"], run["error"], run["streams"], run["api_requests"]) == (
            "failed", "migrate_schema: boom", {}, 0)

    def test_finishing_keeps_what_is_not_given_and_success_clears_an_old_error(self, conn):
        start(conn)
        warehouse.record_validation(conn, "run-1", year_table=[{"year": 2024, "ok": False}], checks={})
        warehouse.finish_run(conn, "run-1", status="failed", error="validate_by_year: mismatch")
        warehouse.finish_run(conn, "run-1", status="failed", error="validate_by_year: ValidationMismatch")
        run = warehouse.get_run(conn, "run-1")
        assert run["year_table"] == [{"year": 2024, "ok": False}]
        assert run["error"] == "validate_by_year: ValidationMismatch"
        warehouse.finish_run(conn, "run-1", status="success")
        assert warehouse.get_run(conn, "run-1")["error"] is None

    def test_an_unknown_run_raises_key_error(self, conn):
        with pytest.raises(KeyError, match="nope"):
            warehouse.get_run(conn, "nope")

    def test_naive_window_instants_are_refused(self, conn):
        with pytest.raises(ValueError, match="window_start"):
            start(conn, window_start=datetime(2024, 1, 1))


class TestWatermarks:
    def test_no_watermark_yet_is_an_empty_dict(self, conn):
        assert warehouse.get_watermarks(conn) == {}

    def test_watermarks_come_back_as_aware_datetimes(self, conn):
        load(conn, "r1", [deal(1)], watermark=at(30))
        marks = warehouse.get_watermarks(conn)
        assert marks == {"deals": at(30)} and marks["deals"].tzinfo is not None


class TestConnectionSettings:
    def test_a_connection_with_a_dict_row_factory_works(self, connect):
        conn = connect(row_factory=dict_row)  # what the postgres connection's "cursor" extra can give
        start(conn)
        assert load(conn, "r1", [deal(1)], watermark=at(1)).inserted == 1
        assert warehouse.get_watermarks(conn) == {"deals": at(1)}
        assert warehouse.get_run(conn, "run-1")["status"] == "running"

    def test_a_connection_that_never_prepares_works(self, connect):
        conn = connect(prepare_threshold=None)  # Supabase's transaction pooler
        for n in range(1, 8):
            load(conn, f"r{n}", [deal(n)], watermark=at(n))
        with conn.transaction():
            assert conn.execute("SELECT count(*) FROM pg_prepared_statements").fetchone() == (0,)

    def test_no_statement_is_ever_prepared_on_the_server(self, connect):
        """A transaction pooler would run a prepared statement's next use in another session."""
        from tests.support.streams import DEALS

        conn = connect()  # psycopg's default: prepare after the fifth run of a statement
        assert conn.prepare_threshold == 5
        for n in range(1, 9):
            load(conn, f"r{n}", [deal(n)], watermark=at(n))
            warehouse.warehouse_count(conn, DEALS, None, n)
            warehouse.max_id(conn, DEALS)
            warehouse.id_at(conn, DEALS, None, None, 1)
            warehouse.get_watermarks(conn)
        with conn.transaction():
            assert conn.execute("SELECT count(*) FROM pg_prepared_statements").fetchone() == (0,)

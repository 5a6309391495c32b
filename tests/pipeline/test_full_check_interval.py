"""``full_check_every_hours``: how often the whole-account check (deletions, per-year table) runs."""

from __future__ import annotations

import psycopg

from ploomes_devkit.pipeline import Pipeline
from ploomes_sync import warehouse
from ploomes_sync.config import SyncConfig
from tests.support.truth import assert_warehouse_equals_truth


def _listing_requests(sim) -> int:
    """Requests of validate_by_year's light listing (it selects no Title, the extract does)."""
    return sum(1 for r in sim.admin.requests()
               if r["path"] == "/Deals" and "Title" not in r["query"].get("$select", "Title"))


class TestFullCheckInterval:
    def test_by_default_every_run_archives_deletions_and_compares_every_year(self, sim, db_url):
        pipeline = Pipeline(db_url, config=SyncConfig(safety_lag_seconds=0))
        pipeline.run()
        gone = sim.admin.truth_deals()[0]["Id"]
        sim.admin.delete_deal(gone)

        run = pipeline.run(run_type="scheduled")

        assert run.plan["mode"] == "incremental"
        assert run.results["validate_by_year"].rows  # a per-year table was made
        with psycopg.connect(db_url) as conn:
            assert conn.execute("SELECT count(*) FROM public.sales WHERE id = %s", [gone]).fetchone()[0] == 0
            assert_warehouse_equals_truth(conn, sim.admin.truth_deals(), sim.admin.truth_contacts())

    def test_between_checks_incremental_runs_skip_the_listing_and_the_next_check_catches_up(self, sim, db_url):
        pipeline = Pipeline(db_url, config=SyncConfig(safety_lag_seconds=0, full_check_every_hours=24))
        first = pipeline.run(run_type="scheduled")
        assert first.plan["mode"] == "full" and first.results["validate_by_year"] is not None
        gone = sim.admin.truth_deals()[0]["Id"]
        sim.admin.delete_deal(gone)
        sim.admin.clear_requests()

        between = pipeline.run(run_type="scheduled")

        assert between.results["validate_by_year"] is None
        assert _listing_requests(sim) == 0
        with psycopg.connect(db_url, autocommit=True) as conn:
            assert conn.execute("SELECT count(*) FROM public.sales WHERE id = %s", [gone]).fetchone()[0] == 1
            row = warehouse.get_run(conn, between.run_key)
        assert row["status"] == "success" and row["year_table"] is None

        due = Pipeline(db_url, config=SyncConfig(safety_lag_seconds=0, full_check_every_hours=1e-9))
        catch_up = due.run(run_type="scheduled")

        assert catch_up.results["validate_by_year"].rows
        with psycopg.connect(db_url) as conn:
            assert_warehouse_equals_truth(conn, sim.admin.truth_deals(), sim.admin.truth_contacts())

"""How often a run lists Ploomes to find deletions: ``listing_every_hours`` and ``full_listing_every_hours``."""

from __future__ import annotations

import psycopg

from ploomes_devkit.pipeline import Pipeline
from ploomes_sync import warehouse
from ploomes_sync.config import SyncConfig
from ploomes_sync.streams import registry
from tests.support.connections import use_ploomes
from tests.support.pacing import most_in_any_window
from tests.support.truth import assert_warehouse_equals_simulator


def _listing_log(sim) -> list[dict]:
    """Requests of the listing task: counts, and reads of the listing (it selects no Title, the extract does)."""
    return [r for r in sim.admin.requests()
            if r["path"] == "/Deals" and "Title" not in r["query"].get("$select", "Title")]


class TestListingInterval:
    def test_by_default_every_run_finds_deletions_by_count_and_lists_every_deal_once_a_day(
        self, sim, db_url, monkeypatch, api_key
    ):
        use_ploomes(monkeypatch, sim.url, api_key, requests_per_minute=6000, page_size=50)  # 18 pages of deals
        pipeline = Pipeline(db_url, config=SyncConfig())
        first = pipeline.run()
        assert first.plan["streams"]["deals"]["listing"] == "extract"  # the full run's extract is its listing
        gone = sim.admin.truth_deals()[0]["Id"]
        sim.admin.delete_deal(gone)
        sim.admin.clear_requests()

        run = pipeline.run(run_type="scheduled")

        assert run.plan["mode"] == "incremental" and run.plan["streams"]["deals"]["listing"] == "count"
        assert run.results["list_deletions"]["deals"]["method"] == "count"
        assert len(_listing_log(sim)) < 900 / 50 / 2  # far fewer requests than listing every deal takes
        with psycopg.connect(db_url) as conn:
            assert conn.execute("SELECT count(*) FROM public.sales WHERE id = %s", [gone]).fetchone()[0] == 0
            assert_warehouse_equals_simulator(conn, sim.admin)

    def test_between_listings_incremental_runs_skip_the_listing_and_the_next_one_catches_up(self, sim, db_url):
        pipeline = Pipeline(db_url, config=SyncConfig(listing_every_hours=24))
        first = pipeline.run(run_type="scheduled")
        assert first.plan["mode"] == "full" and first.results["validate_by_year"]["compared"]
        gone = sim.admin.truth_deals()[0]["Id"]
        sim.admin.delete_deal(gone)
        sim.admin.clear_requests()

        between = pipeline.run(run_type="scheduled")

        # only the vocabulary, read whole every run (its extract is its listing), is reconciled and checked
        whole = {stream.name for stream in registry() if stream.whole}
        assert set(between.skipped) == {"list_deletions"}
        assert set(between.results["reconcile_deletions"]) == whole
        assert set(between.results["validate_by_year"]) - {"compared"} == whole
        assert len(_listing_log(sim)) == 0
        with psycopg.connect(db_url, autocommit=True) as conn:
            assert conn.execute("SELECT count(*) FROM public.sales WHERE id = %s", [gone]).fetchone()[0] == 1
            row = warehouse.get_run(conn, between.run_id)
        assert row["status"] == "success" and row["year_table"] is None

        due = Pipeline(db_url, config=SyncConfig(listing_every_hours=1e-9))
        catch_up = due.run(run_type="scheduled")

        assert catch_up.results["reconcile_deletions"]["deals"]["deleted"] == 1
        with psycopg.connect(db_url) as conn:
            assert_warehouse_equals_simulator(conn, sim.admin)

    def test_without_count_the_run_lists_every_deal_within_its_share_of_the_budget(
        self, sim, db_url, monkeypatch, api_key
    ):
        share = 0.25
        pipeline = Pipeline(db_url, config=SyncConfig(listing_budget_share=share))
        pipeline.run()
        gone = sim.admin.truth_deals()[0]["Id"]
        sim.admin.delete_deal(gone)
        sim.admin.configure(count_supported=False)
        rpm = 600
        use_ploomes(monkeypatch, sim.url, api_key, requests_per_minute=rpm, page_size=100)  # 9 pages of deals
        sim.admin.clear_requests()

        run = pipeline.run(run_type="scheduled")

        assert run.plan["streams"]["deals"]["listing"] == "count"  # asked for, not answered: listed in full
        assert run.results["list_deletions"]["deals"]["method"] == "full"
        times = sorted(r["t"] for r in _listing_log(sim))
        assert len(times) >= 10
        # a quarter of 10 a second; a thread that wakes late may send two slots close together
        assert most_in_any_window(times, 1) <= rpm / 60 * share + 2
        with psycopg.connect(db_url) as conn:
            assert conn.execute("SELECT count(*) FROM public.sales WHERE id = %s", [gone]).fetchone()[0] == 0
            assert_warehouse_equals_simulator(conn, sim.admin)

"""``python -m bench --tiny``: the benchmark runs end to end at a tiny size, so it cannot rot.

Benchmarks are not tests: nothing here looks at a time or a rate, only that every scenario ran,
counted its requests and left a warehouse equal to the simulator's truth.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench.plan import BenchPlan, contacts_for

ROOT = Path(__file__).resolve().parents[1]
TIMEOUT_SECONDS = 300


@pytest.fixture(scope="module")
def report(pg_admin_url: str, tmp_path_factory: pytest.TempPathFactory) -> dict:
    out = tmp_path_factory.mktemp("bench")
    completed = subprocess.run(
        [sys.executable, "-m", "bench", "--tiny", "--out", str(out), "--db-url", pg_admin_url],
        cwd=ROOT, capture_output=True, text=True, timeout=TIMEOUT_SECONDS, check=False,
    )
    assert completed.returncode == 0, completed.stdout[-4000:] + completed.stderr[-4000:]
    assert (out / "latest.json").exists() and list(out.glob("bench-*.json"))
    assert "targets" in completed.stdout
    return json.loads((out / "latest.json").read_text())


class TestTinyBench:
    PLAN = BenchPlan.tiny()

    def test_every_scenario_ran(self, report: dict) -> None:
        kinds = sorted(entry["kind"] for entry in report["scenarios"])
        assert kinds == ["baseline", "full", "latency", "latency", "latency", "latency", "six_hourly", "six_hourly",
                         "six_hourly", "webhooks"]  # latency: 0 s, 0.05 s, uneven, uneven without a refinement
        assert not [entry for entry in report["scenarios"] if "error" in entry or "skipped" in entry]

    def test_every_scenario_left_the_warehouse_equal_to_the_truth(self, report: dict) -> None:
        for entry in report["scenarios"]:
            verified = entry["verified"]
            assert verified["matched"], (entry["name"], verified["problems"])
            assert verified["sales_rows"] == verified["truth_deals"]

    def test_full_syncs_read_every_record_of_every_stream(self, report: dict) -> None:
        for entry in report["scenarios"]:
            if entry["kind"] in ("full", "latency", "baseline"):
                read = {"deals": entry["deals"], "contacts": contacts_for(entry["deals"])}
                if entry["kind"] != "baseline":  # the old cron read deals and contacts only
                    read.update(entry["commerce"], **entry["vocabulary"])
                assert entry["fetched"] == read

    def test_requests_are_counted_by_the_client_and_by_the_simulator_alike(self, report: dict) -> None:
        for entry in report["scenarios"]:
            if entry["kind"] == "webhooks":
                continue
            api = entry["api"]
            assert api["requests"] > 0 and api["requests"] == api["simulator_counted"], entry["name"]
            assert api["throttled"] == 0

    def test_per_task_numbers_add_up(self, report: dict) -> None:
        for entry in report["scenarios"]:
            if entry["kind"] in ("baseline", "webhooks"):
                continue
            assert sum(row["requests"] for row in entry["tasks"]) == entry["api"]["requests"]
            assert entry["peak_rss_mb"] >= entry["rss_after_import_mb"] > 0

    def test_six_hourly_runs_find_the_deletions_by_count_or_by_listing(self, report: dict) -> None:
        runs = [e for e in report["scenarios"] if e["kind"] == "six_hourly"]
        updates, creates, deletes = self.PLAN.changes
        methods = []
        for entry in runs:
            orders, prices, gone = self.PLAN.commerce_changes
            assert entry["mode"] == "incremental" and entry["changed"] == {
                "updated": updates, "created": creates, "deleted": deletes, "orders_created": orders,
                "prices_changed": prices, "orders_deleted": gone, "quotes_deleted": gone, "products_deleted": gone}
            assert entry["deleted"]["orders"] == entry["deleted"]["products"] == gone
            assert entry["deleted"]["deals"] == deletes and entry["checked"]
            methods.append(entry["listing"]["deals"]["method"])
        assert methods == ["count", "full", "full"]  # $count answered; the daily listing; no $count
        day = report["per_day"][0]
        assert day["with_count_day"] == 3 * day["with_count_run"] + day["with_count_daily_listing"]
        assert day["without_count_day"] == 4 * day["without_count_run"]

    def test_the_latency_sweep_measures_the_reading_against_the_floor(self, report: dict) -> None:
        sweep = [e for e in report["scenarios"] if e["kind"] == "latency"]
        assert [(e["latency_label"], e["without"]) for e in sweep] == [
            ("0 s", None), ("0.05 s", None), ("0.06 s + up to 0.2 s, 3% at 0.48 s", None),
            ("0.06 s + up to 0.2 s, 3% at 0.48 s", "by_position")]
        for entry in sweep:
            records = [entry["deals"], entry["contacts"], *entry["commerce"].values()]  # 600 deals, 40 contacts...
            assert entry["floor_requests"] == sum(-(-n // 300) for n in records) > 3 and entry["floor_seconds"] > 0
            assert entry["reading"]["requests"] >= entry["floor_requests"] and entry["reading_vs_floor"] > 0

    def test_the_report_compares_with_the_old_cron_and_lists_the_targets(self, report: dict) -> None:
        assert report["comparison"]["at_same_rate_limit"]["request_ratio"] > 0
        old = next(e for e in report["scenarios"] if e["kind"] == "baseline")
        assert old["api"]["requests"] >= self.PLAN.reference_deals // self.PLAN.old_page_size
        assert {t["target"] for t in report["targets"]} >= {"peak RSS at 600"}
        assert all(isinstance(t["met"], bool) for t in report["targets"])

    def test_every_change_delivered_by_webhook_landed_and_was_timed(self, report: dict) -> None:
        (entry,) = [e for e in report["scenarios"] if e["kind"] == "webhooks"]
        assert entry["changes"] == self.PLAN.webhook_changes and not entry["errors"]
        fresh = entry["freshness"]
        assert 0 < fresh["p50"] <= fresh["p95"] <= fresh["max"]
        assert entry["applies"] >= 1 and entry["api"]["requests"] >= 1
        assert any(t["target"].startswith("webhook freshness") for t in report["targets"])


def test_the_heal_measure_runs_and_every_wrong_answer_heals(pg_admin_url: str, tmp_path: Path) -> None:
    out = tmp_path / "heal.json"
    completed = subprocess.run(
        [sys.executable, "-m", "bench.heal", "--deals", "600", "--out", str(out), "--db-url", pg_admin_url],
        cwd=ROOT, capture_output=True, text=True, timeout=TIMEOUT_SECONDS, check=False,
    )
    assert completed.returncode == 0, completed.stdout[-4000:] + completed.stderr[-4000:]
    cases = json.loads(out.read_text())["cases"]
    assert {case["case"] for case in cases} >= {"extract page partial", "listing answered empty", "rows spoiled"}
    assert all(case["runs"] is not None and case["runs"] <= 4 for case in cases), cases

"""The health report, its page, JSON and Prometheus text, served by the plugin's app over HTTP
(the Airflow login is checked in tests/ui against a real Airflow; here it is stood in for)."""

from __future__ import annotations

import html

import psycopg
import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from ploomes_sync.monitoring import metrics
from ploomes_sync.monitoring.report import read_report
from ploomes_sync.streams import registry
from tests.monitoring.conftest import record_run
from tests.support.connections import use_sales_db

EIGHT_HOURS = 8 * 3600


def test_the_report_says_how_fresh_the_warehouse_is_and_what_each_run_did(history: str):
    with psycopg.connect(history) as conn:
        report = read_report(conn, stale_after_seconds=EIGHT_HOURS)
    assert report.freshness_seconds < 120 and not report.stale
    assert [run["run_id"] for run in report.sync_runs][:3] == ["scheduled__latest", "backfill__2024", "scheduled__6"]
    assert [run["run_id"] for run in report.webhook_runs] == ["webhook__1"]
    latest = report.last_run
    assert (latest["status"], latest["api_requests"], latest["throttled"], latest["rows_changed"]) == (
        "success", 36, 1, 5 + 20 + 1 + 1 + 3)
    # the newest check of every deal, not a date range's nor a count listing's part of them
    assert report.year_table["run_id"] == "scheduled__6"
    assert [row["year"] for row in report.year_table["rows"]] == [2023, 2024, 2025]
    assert [(r["record_id"], r["stream"]) for r in report.rejects] == [("123", "deals")]
    assert report.deletions_30d == {**{stream.target: 0 for stream in registry()}, "sales": 1}  # every stream
    assert report.inbox["pending"] == 1


def test_a_backfill_or_a_webhook_apply_does_not_count_as_fresh(history: str):
    with psycopg.connect(history, autocommit=True) as conn:
        conn.execute("DELETE FROM ploomes_sync.run_history WHERE run_id = 'scheduled__latest'")
        report = read_report(conn, stale_after_seconds=EIGHT_HOURS)
    assert 6 * 3600 - 200 < report.freshness_seconds < 6 * 3600  # the last incremental run, not the newer ones
    with psycopg.connect(history, autocommit=True) as conn:
        assert read_report(conn, stale_after_seconds=3600).stale


def test_the_page_shows_every_section_with_tables_and_charts(served: str):
    answer = requests.get(f"{served}/health", timeout=20)
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/html")
    page = answer.text
    for table_id in ("runs", "years", "rejects", "deletions"):
        assert f'id="{table_id}"' in page, table_id
    assert 'id="chart-requests"' in page and 'id="chart-rows"' in page
    assert '<script src="static/plotly.min.js">' in page and "cdn" not in page.lower()
    assert "scheduled__latest" in page and "extract_deals: boom" in page
    assert "&lt;b&gt;x&lt;/b&gt;" in page and "<b>x</b>" not in page, "record text is escaped"
    assert "1 pending" in page
    script = requests.get(f"{served}/static/plotly.min.js", timeout=20)
    assert script.status_code == 200 and script.headers["content-type"].startswith("text/javascript")
    assert len(script.content) > 1_000_000 and b"plotly" in script.content[:2000].lower()


def test_the_json_has_the_same_facts(served: str):
    data = requests.get(f"{served}/health.json", timeout=20).json()
    assert data["stale"] is False and data["freshness_seconds"] < 120
    assert data["runs"][0]["run_id"] == "scheduled__latest" and data["runs"][0]["streams"]["deals"]["inserted"] == 5
    assert data["inbox"]["pending"] == 1 and data["rejects"][0]["reason"].startswith("Amount")


def test_the_prometheus_text_parses_and_carries_the_documented_metrics(served: str):
    answer = requests.get(f"{served}/metrics", timeout=20)
    assert answer.headers["content-type"].startswith("text/plain; version=0.0.4")
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for family in text_string_to_metric_families(answer.text) for s in family.samples}
    assert samples[("ploomes_sync_freshness_seconds", ())] < 120
    assert samples[("ploomes_sync_stale", ())] == 0
    assert samples[("ploomes_sync_last_run_status", (("status", "success"),))] == 1
    assert samples[("ploomes_sync_last_run_status", (("status", "failed"),))] == 0
    assert samples[("ploomes_sync_last_run_rows", (("kind", "inserted"), ("stream", "deals")))] == 5
    assert samples[("ploomes_sync_last_run_rejects", (("stream", "deals"),))] == 2
    assert samples[("ploomes_sync_last_run_api_requests", ())] == 36
    assert samples[("ploomes_sync_last_run_throttled", ())] == 1
    assert samples[("ploomes_sync_inbox_backlog", ())] == 1
    assert ("ploomes_sync_webhook_freshness_seconds", ()) not in samples, "no event was applied yet"


def test_with_no_run_yet_the_warehouse_is_stale_and_unknown_values_are_left_out(db_url: str, monkeypatch):
    from ploomes_sync import warehouse

    with psycopg.connect(db_url) as conn:
        warehouse.migrate(conn)
        report = read_report(conn, stale_after_seconds=EIGHT_HOURS)
    assert report.stale and report.freshness_seconds is None and report.last_run is None
    text = metrics.render(report).decode()
    assert "ploomes_sync_stale 1.0" in text and "ploomes_sync_freshness_seconds" not in text
    assert "ploomes_sync_last_run_status" not in text


def test_a_failed_latest_run_is_reported(history: str):
    with psycopg.connect(history) as conn:
        record_run(conn, "scheduled__broken", status="failed", hours_ago=0.001, error="check_ploomes_key: 403")
        report = read_report(conn, stale_after_seconds=EIGHT_HOURS)
    text = metrics.render(report).decode()
    assert 'ploomes_sync_last_run_status{status="failed"} 1.0' in text
    assert "ploomes_sync_last_run_success 0.0" in text


def test_when_the_sync_never_ran_there_the_page_says_what_to_do(history: str, served: str):
    with psycopg.connect(history, autocommit=True) as conn:
        conn.execute("ALTER TABLE ploomes_sync.run_history RENAME TO run_history_away")
    answer = requests.get(f"{served}/health.json", timeout=20)
    assert answer.status_code == 503
    assert "run_history" in answer.json()["detail"] and "ploomes_sales_sync" in " ".join(answer.json()["checks"])


class TestAWarehouseThatCannotBeRead:
    """No such database: the page, the JSON and the metrics say so at once (the pool alone would wait
    10 s and then say only that it timed out)."""

    @pytest.fixture
    def gone(self, served: str, monkeypatch: pytest.MonkeyPatch, db_url: str) -> str:
        use_sales_db(monkeypatch, db_url.rsplit("/", 1)[0] + "/no_such_warehouse")
        return served

    def test_the_page_names_the_cause_and_what_to_check(self, gone: str):
        answer = requests.get(f"{gone}/health", timeout=8)  # well within the pool's 10 s
        assert answer.status_code == 503 and answer.headers["content-type"].startswith("text/html")
        text = html.unescape(answer.text)
        assert 'database "no_such_warehouse" does not exist' in text
        assert "'sales_db'" in text and 'id="checks"' in text

    def test_the_json_says_the_same(self, gone: str):
        answer = requests.get(f"{gone}/health.json", timeout=8)
        assert answer.status_code == 503 and "no_such_warehouse" in answer.json()["detail"]

    def test_the_metrics_keep_answering_that_the_warehouse_is_down(self, gone: str, served: str):
        answer = requests.get(f"{gone}/metrics", timeout=8)
        assert answer.status_code == 200
        samples = {s.name: s.value for family in text_string_to_metric_families(answer.text) for s in family.samples}
        assert samples == {"ploomes_sync_warehouse_up": 0}


def test_the_metrics_say_the_warehouse_is_up_when_it_is(served: str):
    answer = requests.get(f"{served}/metrics", timeout=20)
    assert "ploomes_sync_warehouse_up 1.0" in answer.text


class TestTheDagTab:
    def test_on_a_dag_of_the_sync_it_is_the_health_page(self, served: str):
        assert 'id="runs"' in requests.get(f"{served}/health", params={"dag_id": "ploomes_sales_sync"}, timeout=20).text

    def test_on_another_dag_it_says_in_one_line_that_the_dag_is_not_a_sync(self, served: str):
        answer = requests.get(f"{served}/health", params={"dag_id": "finance_daily"}, timeout=20)
        assert answer.status_code == 200 and 'id="not-a-sync"' in answer.text and 'id="runs"' not in answer.text
        assert "finance_daily is not one of the Ploomes sync's DAGs" in answer.text

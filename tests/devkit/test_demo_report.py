"""What ``make demo`` prints besides the run: the runs it made (the full sync first), the alert e-mails
whole, and the simulator's own log."""

from __future__ import annotations

from email.message import EmailMessage

import psycopg
import requests

from ploomes_devkit.demo import email_text, runs_report
from ploomes_devkit.simulator_process import SimulatorProcess
from ploomes_sync import warehouse
from ploomes_sync.alerts import describe_failure


class _Ti:
    dag_id, task_id, run_id, try_number, max_tries, log_url = ("ploomes_sales_sync", "extract_deals", "manual__1", 1,
                                                               3, "http://airflow/log")


def test_an_alert_email_is_printed_whole_as_text() -> None:
    subject, body = describe_failure({"ti": _Ti(), "exception": RuntimeError("Ploomes answered 503 <twice>")})
    message = EmailMessage()
    message["Subject"] = subject
    message.set_content(body, subtype="html")
    text = email_text(message)
    assert "Task extract_deals of DAG ploomes_sales_sync failed for good" in text
    assert "RuntimeError: Ploomes answered 503 <twice>" in text and "http://airflow/log" in text
    assert "<p>" not in text and "&lt;" not in text


def test_the_runs_report_lists_the_full_sync_before_the_incremental_one(db_url: str) -> None:
    with psycopg.connect(db_url) as conn:
        warehouse.migrate(conn)
        for run_id, mode, fetched, pages, requests in (("scheduled__a", "full", 30000, 100, 112),
                                                         ("manual__b", "incremental", 12, 1, 10)):
            warehouse.start_run(conn, run_id, dag_id="ploomes_sales_sync", run_type=run_id.split("__")[0], mode=mode,
                                window_start=None, window_end=None, watermarks_before=None)
            warehouse.record_stream(conn, run_id, "deals", fetched=fetched, pages=pages)
            warehouse.add_api_usage(conn, run_id, requests, 0)
            warehouse.finish_run(conn, run_id, status="success")
    lines = runs_report(db_url).splitlines()
    full, incremental = lines[3].split(), lines[4].split()
    assert full[:4] == ["scheduled__a", "scheduled", "full", "success"] and full[4:7] == ["30,000", "100", "112"]
    assert incremental[:3] == ["manual__b", "manual", "incremental"] and incremental[4:7] == ["12", "1", "10"]


def test_the_simulator_logs_each_request_when_asked(tmp_path) -> None:
    log = tmp_path / "simulator.log"
    with SimulatorProcess(deals=30, log_path=log, log_level="INFO", access_log=True) as sim:
        sim.admin.health()
        requests.get(f"{sim.url}/Deals", params={"$top": "1"}, headers={"User-Key": sim.api_key}, timeout=10)
    text = log.read_text()
    assert "ready at" in text and "GET /Deals?%24top=1" in text

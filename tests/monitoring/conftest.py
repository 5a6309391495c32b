"""A migrated warehouse with a history of runs, rejects, deletions and webhook events, recorded through
the same functions the DAGs use."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import psycopg
import pytest

from ploomes_sync import warehouse
from ploomes_sync.warehouse import inbox
from tests.support.connections import use_sales_db


def age(conn: psycopg.Connection, run_id: str, hours: float, seconds: float = 90) -> None:
    """Move a run back in time: it started ``hours`` ago and lasted ``seconds``."""
    conn.execute("UPDATE ploomes_sync.run_history SET started_at = clock_timestamp() - %s, "
                 "finished_at = clock_timestamp() - %s + %s WHERE run_id = %s",
                 [timedelta(hours=hours), timedelta(hours=hours), timedelta(seconds=seconds), run_id])
    conn.commit()


def record_run(conn: psycopg.Connection, run_id: str, *, status: str = "success", mode: str = "incremental",
               run_type: str = "scheduled", hours_ago: float = 1.0, requests: int = 40, throttled: int = 0,
               deals: dict | None = None, contacts: dict | None = None, error: str | None = None) -> None:
    warehouse.start_run(conn, run_id, dag_id="ploomes_sales_sync", run_type=run_type, mode=mode,
                        window_start=None, window_end=None, watermarks_before=None)
    warehouse.record_stream(conn, run_id, "deals", **(deals or {"fetched": 30, "inserted": 5, "updated": 20,
                                                               "deleted": 1, "rejected": 2}))
    warehouse.record_stream(conn, run_id, "contacts", **(contacts or {"fetched": 4, "inserted": 1, "updated": 3,
                                                                     "deleted": 0, "rejected": 0}))
    warehouse.add_api_usage(conn, run_id, requests, throttled)
    warehouse.finish_run(conn, run_id, status=status, error=error)
    age(conn, run_id, hours_ago)


@pytest.fixture
def history(db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Two days of 6-hourly runs (one failed), a backfill, a webhook apply, rejects, deletions and a
    pending webhook event; connection sales_db points at it."""
    use_sales_db(monkeypatch, db_url)
    with psycopg.connect(db_url) as conn:
        warehouse.migrate(conn)
        for n, hours in enumerate((42, 36, 30, 24, 18, 12, 6)):
            record_run(conn, f"scheduled__{n}", hours_ago=hours, requests=30 + n,
                       status="failed" if n == 5 else "success", error="extract_deals: boom" if n == 5 else None)
        record_run(conn, "backfill__2024", run_type="backfill", mode="range", hours_ago=3, requests=300)
        record_run(conn, "webhook__1", run_type="webhook", mode="events", hours_ago=0.5, requests=2,
                   deals={"fetched": 3, "inserted": 0, "updated": 3, "deleted": 0, "rejected": 0})
        record_run(conn, "scheduled__latest", hours_ago=0.01, requests=36, throttled=1)
        # the per-year tables: the daily full listing's 6 hours ago covers every deal; the date-range
        # run's and the latest count listing's cover part of them
        for run_id, every, years in (("scheduled__6", True, (2023, 2024, 2025)), ("backfill__2024", False, (2024,)),
                                     ("scheduled__latest", False, (2024,))):
            warehouse.record_validation(conn, run_id, checks={"deals": {"every_record": every}}, year_table=[
                {"year": year, "ploomes_deals": 1361 if every else 10, "warehouse_deals": 1361 if every else 10,
                 "ploomes_won_revenue": "1797227.45" if every else "100.00",
                 "warehouse_won_revenue": "1797227.45" if every else "100.00", "differing": 0, "deals_diff": 0,
                 "revenue_diff": "0.00", "ok": True} for year in years])
        warehouse.stage_rejects(conn, "scheduled__latest", "deals", [("123", "Amount: not a number <b>x</b>", "{}")])
        conn.execute("INSERT INTO ploomes_sync.deleted_sales (id, deleted_at, run_id, row_data) "
                     "VALUES (555, clock_timestamp() - interval '2 days', 'scheduled__3', '{}')")
        conn.commit()
        inbox.store(conn, stream="deals", record_id=9, action="Update", payload={})
    yield db_url


@pytest.fixture
def served(history: str) -> Iterator[str]:
    """The plugin's app on a free port (the Airflow login stood in for), reading ``history``."""
    from ploomes_devkit.webhook_stack import ReceiverServer
    from ploomes_sync.web.app import create_app
    from ploomes_sync.web.auth import require_reader

    app = create_app()
    app.dependency_overrides[require_reader] = lambda: "an Airflow user"
    with ReceiverServer(app) as server:
        yield server.app_url

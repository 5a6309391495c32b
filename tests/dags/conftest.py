"""Run the real DAG with Airflow's dag.test() against a simulator and a fresh warehouse."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest

from ploomes_simulator import SimulatorConfig, run_in_thread
from tests.support.connections import use_ploomes, use_sales_db

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def airflow_db() -> None:
    """The session's Airflow metadata database (SQLite in the session's AIRFLOW_HOME)."""
    subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], check=True, capture_output=True,
                   env=os.environ.copy())


@pytest.fixture
def simulator(api_key: str):
    config = SimulatorConfig(deals=900, contacts=80, seed=7, api_key=api_key, rate_limit=0)
    with run_in_thread(config) as sim:
        yield sim


def connection_uri(conn_type: str, url: str, password: str | None = None, extra: dict | None = None) -> str:
    return json.dumps({"conn_type": conn_type, "host": url, "password": password, "extra": extra or {}})


class DagHarness:
    """Sets the connections and configuration a run needs, and runs the DAG with dag.test()."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, sim: Any, db_url: str, api_key: str) -> None:
        self.sim, self.db_url = sim, db_url
        use_ploomes(monkeypatch, sim.url, api_key, requests_per_minute=6000, backoff_base=0.05, backoff_max=0.2)
        use_sales_db(monkeypatch, db_url)
        # every run lists every record (the daily full listing, each run): the check sees every deal
        monkeypatch.setenv("AIRFLOW_VAR_PLOOMES_SYNC_CONFIG",
                           json.dumps({"lookback_minutes": 5, "full_listing_every_hours": 0}))
        self._dag = None
        self._next = datetime(2026, 6, 1, tzinfo=UTC)  # after the DAG's start_date

    @property
    def dag(self):
        if self._dag is None:
            from airflow.dag_processing.dagbag import DagBag

            self._dag = DagBag(dag_folder=str(ROOT / "dags")).dags["ploomes_sales_sync"]
            for task in self._dag.tasks:  # keep the retries, not the minutes of waiting between them
                task.retry_delay = timedelta(seconds=1)
                task.max_retry_delay = timedelta(seconds=2)
        return self._dag

    def run(self, **params: Any):
        """One manual run; returns the DagRun (check .state)."""
        self._next += timedelta(minutes=1)
        return self.dag.test(logical_date=self._next, run_conf=params or None)

    def connect(self) -> psycopg.Connection:
        return psycopg.connect(self.db_url, autocommit=True)

    def task_states(self, dag_run) -> dict[str, str]:
        return {ti.task_id: str(ti.state) for ti in dag_run.get_task_instances()}


@pytest.fixture
def harness(airflow_db, monkeypatch, simulator, db_url, api_key) -> Iterator[DagHarness]:
    yield DagHarness(monkeypatch, simulator, db_url, api_key)

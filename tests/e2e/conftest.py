"""End to end: a real Airflow (standalone on loopback: SQLite, LocalExecutor, all four components),
the simulator as a separate process, a real PostgreSQL warehouse and a real SMTP server.

One Airflow serves every test of a module (starting one costs ~20 s of two busy cores). The DAG's
schedule is switched off there (``[scheduler] use_job_schedule = False``): only the runs a test
makes exist, so what a test sees is what it did. ``make demo`` covers the schedule.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import psycopg
import pytest

from ploomes_devkit.airflow_standalone import AirflowClient, AirflowStandalone, free_port
from ploomes_devkit.demo import postgres_connection
from ploomes_devkit.postgres import create_database, drop_database
from ploomes_devkit.simulator_process import SimulatorProcess
from tests.support.smtp import Mailbox, smtp_server

ROOT = Path(__file__).resolve().parents[2]
DAG_ID = "ploomes_sales_sync"
E2E_DEALS = 600
E2E_CONTACTS = 60
E2E_API_KEY = "e2e-key-3f9a1c7e5b2d4a6f8e0c1b3d5f7a9c2e"
ALERT_EMAILS = "data-team@example.test, oncall@example.test"
RUN_TIMEOUT = 240.0


@dataclass
class E2EStack:
    """What the end-to-end tests drive: Airflow (and its REST client), the simulator, the warehouse."""

    airflow: AirflowStandalone
    api: AirflowClient
    sim: SimulatorProcess
    db_url: str
    mailbox: Mailbox

    def alive(self) -> None:
        """Fail fast when a component died instead of waiting for a timeout."""
        self.airflow.check_alive()
        self.sim.check_alive()

    def trigger_and_wait(self, conf: dict[str, Any] | None = None, timeout: float = RUN_TIMEOUT) -> dict:
        """A manual run through the REST API, waited for; the finished run."""
        run = self.api.trigger_dag_run(DAG_ID, conf=conf)
        return self.api.wait_for_dag_run(DAG_ID, run["dag_run_id"], timeout=timeout, alive=self.alive)

    def explain(self, run_id: str) -> str:
        """Task states of the run and the end of every failed task's log (for assertion messages)."""
        lines = [f"run {run_id}; Airflow log: {self.airflow.log_path}"]
        for ti in self.api.task_instances(DAG_ID, run_id):
            lines.append(f"  {ti['task_id']}: {ti['state']} (try {ti['try_number']})")
            if ti["state"] == "failed":
                for path in self.airflow.task_log_files(DAG_ID, run_id, ti["task_id"])[-1:]:
                    tail = path.read_text(errors="replace").splitlines()[-25:]
                    lines += ["    " + line[:300] for line in tail]
        return "\n".join(lines)

    def connect(self) -> psycopg.Connection:
        return psycopg.connect(self.db_url, autocommit=True)

    def sales_count(self) -> int:
        with self.connect() as conn:
            return conn.execute("SELECT count(*) FROM public.sales").fetchone()[0]

    def history(self, run_id: str) -> dict[str, Any]:
        """The run's row of ploomes_sync.run_history."""
        with self.connect() as conn, conn.cursor(row_factory=psycopg.rows.dict_row) as cur:
            cur.execute("SELECT run_type, mode, status, streams, year_table, error "
                        "FROM ploomes_sync.run_history WHERE run_id = %s", [run_id])
            row = cur.fetchone()
        assert row is not None, f"no run_history row for {run_id}"
        return row

    def wait_for_mail(self, until: Callable[[list[EmailMessage]], bool], timeout: float = 30.0,
                      settle: float = 3.0) -> list[EmailMessage]:
        """The messages received, once ``until(messages)`` holds, plus ``settle`` seconds for strays."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not until(list(self.mailbox.messages)):
            time.sleep(0.5)
        time.sleep(settle)
        return list(self.mailbox.messages)


@pytest.fixture(scope="module")
def e2e(pg_admin_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[E2EStack]:
    """The simulator (600 deals, no rate limit), a fresh warehouse, an SMTP server and Airflow with
    the connections, the alert Variable and pool ``ploomes_api`` set, and the DAG parsed and unpaused."""
    db_url = create_database(pg_admin_url, prefix="ploomes_e2e")
    home = tmp_path_factory.mktemp("airflow-home")
    try:
        with SimulatorProcess(deals=E2E_DEALS, contacts=E2E_CONTACTS, seed=11, api_key=E2E_API_KEY,
                              rate_limit=0) as sim, smtp_server() as mailbox:
            env = {
                "AIRFLOW_CONN_PLOOMES_DEFAULT": json.dumps({
                    "conn_type": "ploomes", "host": sim.url, "password": E2E_API_KEY,
                    "extra": {"requests_per_minute": 6000, "backoff_base": 0.05, "backoff_max": 0.2}}),
                "AIRFLOW_CONN_SALES_DB": json.dumps(postgres_connection(db_url)),
                "AIRFLOW_CONN_SMTP_DEFAULT": json.dumps({
                    "conn_type": "smtp", "host": "127.0.0.1", "port": mailbox.port,
                    "extra": {"disable_tls": True, "disable_ssl": True, "from_email": "airflow@example.test",
                              "retry_limit": 0, "timeout": 10}}),
                "AIRFLOW_VAR_PLOOMES_SYNC_ALERT_EMAILS": ALERT_EMAILS,
                "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",
            }
            with AirflowStandalone(home, dags_folder=ROOT / "dags", plugins_folder=ROOT / "plugins", env=env,
                                   port=free_port()) as airflow:
                api = airflow.client()
                stack = E2EStack(airflow=airflow, api=api, sim=sim, db_url=db_url, mailbox=mailbox)
                api.set_pool("ploomes_api", 3, "Ploomes API")
                api.wait_for_dag(DAG_ID, alive=stack.alive)
                api.set_paused(DAG_ID, False)
                yield stack
            assert not airflow.leftover_pids(), "Airflow processes left after stop()"
    finally:
        drop_database(pg_admin_url, db_url)


@pytest.fixture(scope="module")
def first_run(e2e: E2EStack) -> dict[str, Any]:
    """The module's first run (a full sync), triggered through the REST API and finished (in
    whatever state: the tests that need it assert its success)."""
    return e2e.trigger_and_wait()

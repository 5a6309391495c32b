"""A real Airflow (standalone on loopback: PostgreSQL metadata, LocalExecutor, all four components, the plugin),
the simulator as a separate process, a real PostgreSQL warehouse and a real SMTP server: the stack
the end-to-end, webhook and browser tests drive.

The DAGs' schedules are switched off (``[scheduler] use_job_schedule = False``): only the runs a
test makes exist (and the webhook applier's, which the inbox's watcher starts), so what a test sees
is what it did. ``make demo`` covers the schedule.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import psycopg

from ploomes_devkit.airflow_standalone import AirflowClient, AirflowStandalone, free_port
from ploomes_devkit.demo import postgres_connection
from ploomes_devkit.postgres import create_database, drop_database, sqlalchemy_url
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

    def initial_sync(self, timeout: float = RUN_TIMEOUT) -> dict:
        """With the schedule on: one manual run of the paused sync DAG (unpaused for it alone, so the
        scheduler creates no scheduled run: a manual run is made first and the DAG paused again as soon
        as it finished)."""
        run = self.api.trigger_dag_run(DAG_ID)
        self.api.set_paused(DAG_ID, False)
        try:
            return self.api.wait_for_dag_run(DAG_ID, run["dag_run_id"], timeout=timeout, alive=self.alive)
        finally:
            self.api.set_paused(DAG_ID, True)

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
            cur.execute("SELECT run_type, mode, status, streams, year_table, error, api_requests "
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


WEBHOOK_KEY = "test-key-e2e-webhook-5a9c3e7b1d"


@contextlib.contextmanager
def airflow_stack(pg_admin_url: str, home: Path, *, deals: int = E2E_DEALS, contacts: int = E2E_CONTACTS,
                  env: dict[str, str] | None = None, use_schedule: bool = False,
                  requests_per_minute: int = 6000) -> Iterator[E2EStack]:
    """The simulator (no rate limit), a fresh warehouse, an SMTP server and Airflow (with the plugin)
    with the connections (``ploomes_webhook`` pointing at Airflow itself), the alert Variable and pool
    ``ploomes_api`` set, and the sync DAG parsed and unpaused.

    ``use_schedule``: let the scheduler create scheduled and asset-triggered runs (the webhook
    applier's); then the sync DAG stays paused (a manual run made while it is paused waits for
    :meth:`E2EStack.initial_sync`). ``requests_per_minute``: the connection's budget (the simulator's
    own limit is off until a test configures it)."""
    db_url = create_database(pg_admin_url, prefix="ploomes_e2e")
    # Airflow's own metadata in PostgreSQL too, as in production: with SQLite the API server and the
    # scheduler lock each other out (a backfill created from the UI meets "database is locked")
    metadata_url = create_database(pg_admin_url, prefix="ploomes_e2e_meta")
    port = free_port()
    try:
        with SimulatorProcess(deals=deals, contacts=contacts, seed=11, api_key=E2E_API_KEY,
                              rate_limit=0) as sim, smtp_server() as mailbox:
            stack_env = {
                "AIRFLOW_CONN_PLOOMES_DEFAULT": json.dumps({
                    "conn_type": "ploomes", "host": sim.url, "password": E2E_API_KEY,
                    "extra": {"requests_per_minute": requests_per_minute, "backoff_base": 0.05, "backoff_max": 0.2}}),
                "AIRFLOW_CONN_SALES_DB": json.dumps(postgres_connection(db_url)),
                "AIRFLOW_CONN_SMTP_DEFAULT": json.dumps({
                    "conn_type": "smtp", "host": "127.0.0.1", "port": mailbox.port,
                    "extra": {"disable_tls": True, "disable_ssl": True, "from_email": "airflow@example.test",
                              "retry_limit": 0, "timeout": 10}}),
                "AIRFLOW_CONN_PLOOMES_WEBHOOK": json.dumps({
                    "conn_type": "http", "host": f"http://127.0.0.1:{port}", "password": WEBHOOK_KEY}),
                "AIRFLOW_VAR_PLOOMES_SYNC_ALERT_EMAILS": ALERT_EMAILS,
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": sqlalchemy_url(metadata_url),
                "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": str(use_schedule),
                **(env or {}),
            }
            with AirflowStandalone(home, dags_folder=ROOT / "dags", plugins_folder=ROOT / "plugins", env=stack_env,
                                   port=port) as airflow:
                api = airflow.client()
                stack = E2EStack(airflow=airflow, api=api, sim=sim, db_url=db_url, mailbox=mailbox)
                api.set_pool("ploomes_api", 3, "Ploomes API")
                api.wait_for_dag(DAG_ID, alive=stack.alive)
                if not use_schedule:
                    api.set_paused(DAG_ID, False)
                yield stack
            assert not airflow.leftover_pids(), "Airflow processes left after stop()"
    finally:
        drop_database(pg_admin_url, db_url)
        drop_database(pg_admin_url, metadata_url)

"""The webhook path in-process: the simulator (with webhooks), a warehouse synced once, the plugin's
app served over real HTTP (uvicorn) and the applier's function. Connections are ``AIRFLOW_CONN_*``
variables, so the app reads them as it does inside Airflow."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import psycopg
import pytest

from ploomes_devkit.pipeline import Pipeline
from ploomes_devkit.webhook_stack import ReceiverServer
from ploomes_simulator import SimulatorConfig, run_in_thread
from ploomes_simulator.server import RunningSimulator
from ploomes_sync.config import SyncConfig
from ploomes_sync.hooks.ploomes import PloomesHook
from ploomes_sync.web.app import create_app
from ploomes_sync.webhooks.apply import Applied, apply_pending
from ploomes_sync.webhooks.receiver import KEY_HEADER
from tests.support.connections import use_ploomes, use_sales_db

WEBHOOK_KEY = "test-key-webhook-7d3e1f9a2b4c6d8e0f"


@dataclass
class WebhookStack:
    sim: RunningSimulator
    db_url: str
    receiver: ReceiverServer

    @property
    def endpoint(self) -> str:
        return f"{self.receiver.app_url}/webhooks"

    def connect(self, **kwargs) -> psycopg.Connection:
        return psycopg.connect(self.db_url, **kwargs)

    def apply(self, run_id: str = "webhook__test", config: SyncConfig | None = None) -> Applied:
        with self.connect() as conn, self.connect() as reject_conn:
            return apply_pending(hook=PloomesHook(), conn=conn, reject_conn=reject_conn,
                                 config=config or SyncConfig(), run_id=run_id, dag_id="ploomes_webhook_apply")

    def sync(self) -> None:
        run = Pipeline(self.db_url).run()
        assert run.status == "success", run.failed

    def rows(self, table: str = "sales", key: str = "id") -> dict[Any, dict]:
        with self.connect() as conn, conn.cursor(row_factory=psycopg.rows.dict_row) as cur:
            return {row[key]: row for row in cur.execute(f"SELECT * FROM public.{table}")}  # fixed names

    def inbox(self) -> list[dict]:
        with self.connect() as conn, conn.cursor(row_factory=psycopg.rows.dict_row) as cur:
            return cur.execute("SELECT * FROM ploomes_sync.webhook_inbox ORDER BY id").fetchall()

    def wait_for_deliveries(self, count: int, timeout: float = 20.0) -> list[dict]:
        """The simulator's delivery log once ``count`` deliveries settled (sent or dropped)."""
        import time

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            log, pending = self.sim.admin.delivery_state()
            if len(log) >= count and not pending:
                return log
            time.sleep(0.05)
        raise AssertionError(f"only {len(self.sim.admin.deliveries())} of {count} deliveries settled")

    def headers(self, key: str | None = WEBHOOK_KEY) -> dict[str, str]:
        return {} if key is None else {KEY_HEADER: key}


@pytest.fixture
def stack(api_key: str, db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[WebhookStack]:
    """A simulator of 400 deals and 40 contacts, the warehouse synced with it, and the receiver."""
    config = SimulatorConfig(deals=400, contacts=40, seed=5, api_key=api_key, rate_limit=0)
    with run_in_thread(config) as sim, ReceiverServer(create_app()) as receiver:
        use_ploomes(monkeypatch, sim.url, api_key, requests_per_minute=6000, backoff_base=0.05, backoff_max=0.2)
        use_sales_db(monkeypatch, db_url)
        monkeypatch.setenv("AIRFLOW_CONN_PLOOMES_WEBHOOK", json.dumps(
            {"conn_type": "http", "host": receiver.url, "password": WEBHOOK_KEY}))
        stack = WebhookStack(sim, db_url, receiver)
        stack.sync()
        yield stack


@pytest.fixture
def registered(stack: WebhookStack) -> WebhookStack:
    """The stack with the webhooks registered in the simulator (as ploomes_webhook_setup does)."""
    from ploomes_sync.webhooks import registration

    url, key = registration.receiver_settings()
    registration.register(PloomesHook(), url, key)
    return stack


Truth = Callable[[], dict[int, dict]]

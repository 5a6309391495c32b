"""Fixtures of the fault-injection suite: a simulator per test, the connection to it, the pipeline.

The pipeline is ``ploomes_devkit.pipeline.Pipeline``: the DAG's own task functions, in the DAG's
order, each on connections of its own. Faults come from the simulator (over HTTP), from
PostgreSQL itself (locks, a killed client, a restarted server), or from the test between tasks.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from ploomes_devkit.pipeline import Pipeline
from ploomes_simulator import RunningSimulator, SimulatorConfig, run_in_thread
from tests.reliability.harness import CONFIG, connection_json

SIM_DEALS = 600
SIM_CONTACTS = 60

Connect = Callable[..., None]


@pytest.fixture
def sim(api_key: str) -> Iterator[RunningSimulator]:
    """600 deals and 60 contacts (seeded), no server-side rate limit, on a free port."""
    config = SimulatorConfig(deals=SIM_DEALS, contacts=SIM_CONTACTS, seed=6, api_key=api_key, rate_limit=0,
                             retry_after=True, slow_seconds=1.0)
    with run_in_thread(config) as running:
        yield running


@pytest.fixture
def connect(monkeypatch: pytest.MonkeyPatch, sim: RunningSimulator, api_key: str) -> Connect:
    """``connect(**extras)`` points ``ploomes_default`` at the simulator (fast retries by default)."""

    def _connect(**extras: Any) -> None:
        monkeypatch.setenv("AIRFLOW_CONN_PLOOMES_DEFAULT", connection_json(sim.url, api_key, **extras))

    _connect()
    return _connect


@pytest.fixture
def pipeline(db_url: str, connect: Connect) -> Pipeline:
    """The DAG's tasks against a fresh database and the simulator."""
    return Pipeline(db_url, config=CONFIG)

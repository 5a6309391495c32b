"""An in-process pipeline (the DAG's task functions in the DAG's order) against a simulator."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ploomes_simulator import SimulatorConfig, run_in_thread
from tests.support.connections import use_ploomes


@pytest.fixture
def sim(api_key: str, monkeypatch: pytest.MonkeyPatch) -> Iterator:
    config = SimulatorConfig(deals=900, contacts=80, seed=11, api_key=api_key, rate_limit=0)
    with run_in_thread(config) as running:
        use_ploomes(monkeypatch, running.url, api_key, requests_per_minute=6000, backoff_base=0.05,
                    backoff_max=0.2)
        yield running

"""Fixtures of the simulator tests: a small simulator on a free port and an HTTP client for it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from ploomes_simulator import RunningSimulator
from tests.simulator.sim_support import Api, start


@pytest.fixture
def sim(api_key: str) -> Iterator[RunningSimulator]:
    with start(api_key) as running:
        yield running


@pytest.fixture
def api(sim: RunningSimulator, api_key: str) -> Iterator[Api]:
    client = Api(sim, api_key)
    yield client
    client.close()


@pytest.fixture
def truth_deals(sim: RunningSimulator) -> list[dict[str, Any]]:
    return sim.admin.truth_deals()

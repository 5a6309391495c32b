"""An in-process pipeline (the DAG's task functions in the DAG's order) against a simulator."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.connections import simulated_ploomes


@pytest.fixture
def sim(api_key: str, monkeypatch: pytest.MonkeyPatch) -> Iterator:
    with simulated_ploomes(monkeypatch, api_key, deals=900, contacts=80, seed=11, requests_per_minute=6000,
                           backoff_base=0.05, backoff_max=0.2) as running:
        yield running

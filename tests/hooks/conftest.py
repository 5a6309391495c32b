"""Fixtures of the hook tests: a small simulator per test, and the connection pointing at it.

The connection is the JSON environment variable ``AIRFLOW_CONN_PLOOMES_DEFAULT``. Outside a task,
Airflow 3's ``BaseHook.get_connection`` goes through the task SDK: with no supervisor and no
``_AIRFLOW_PROCESS_CONTEXT``, it searches the environment-variable backend (then any configured
external one), never the metadata database. So no ``AIRFLOW__...`` setting is needed beyond the
test home the root conftest gives Airflow; and as the secrets cache is off unless
``[secrets] use_cache`` is set, every ``get_conn()`` reads the variable anew.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import structlog

from ploomes_simulator import RunningSimulator, SimulatorConfig, run_in_thread

# Small waits so failure tests take milliseconds, and no proxy for loopback traffic.
FAST_EXTRAS: dict[str, Any] = {
    "requests_per_minute": 60_000,
    "backoff_base": 0.01,
    "backoff_max": 0.05,
    "max_throttle_wait": 5,
    "timeout": 10,
    "trust_env": False,
}

Connect = Callable[..., None]


@pytest.fixture
def sim(api_key: str) -> Iterator[RunningSimulator]:
    """700 deals and 50 contacts, no rate limit, on a free port."""
    config = SimulatorConfig(
        deals=700, contacts=50, seed=1, api_key=api_key, rate_limit=0, retry_after=True, slow_seconds=1.0
    )
    with run_in_thread(config) as running:
        yield running


@pytest.fixture
def connect(monkeypatch: pytest.MonkeyPatch, sim: RunningSimulator, api_key: str) -> Connect:
    """``connect(password=..., host=..., **extras)`` sets ``ploomes_default`` (FAST_EXTRAS by default)."""

    def _connect(password: str | None = api_key, host: str | None = None, **extras: Any) -> None:
        connection = {
            "conn_type": "ploomes",
            "host": sim.url if host is None else host,
            "password": password,
            "extra": {**FAST_EXTRAS, **extras},
        }
        monkeypatch.setenv("AIRFLOW_CONN_PLOOMES_DEFAULT", json.dumps(connection))

    return _connect


@pytest.fixture
def hook_logs(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """caplog at DEBUG that also sees the hook's own lines.

    Airflow 3 hooks log through structlog, which Airflow points at stdout rather than at the
    logging module; for the test this routes structlog into logging, so one capture holds the
    hook, urllib3, requests and Airflow alike.
    """
    previous = structlog.get_config()
    structlog.configure(
        processors=[structlog.stdlib.render_to_log_args_and_kwargs],
        wrapper_class=structlog.stdlib.BoundLogger,
        logger_factory=structlog.stdlib.LoggerFactory(),
        cache_logger_on_first_use=False,
    )
    caplog.set_level(logging.DEBUG)
    for name in ("airflow", "airflow.task", "urllib3", "requests", "ploomes_sync"):
        caplog.set_level(logging.DEBUG, logger=name)
    try:
        yield caplog
    finally:
        structlog.configure(**previous)

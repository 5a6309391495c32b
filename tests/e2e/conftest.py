"""End to end: the DAG in a real Airflow (see tests/support/airflow_stack.py).

One Airflow serves every test of a module (starting one costs ~20 s of two busy cores).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.airflow_stack import (  # noqa: F401 (re-exported for the test modules)
    ALERT_EMAILS,
    DAG_ID,
    E2E_API_KEY,
    E2E_CONTACTS,
    E2E_DEALS,
    RUN_TIMEOUT,
    E2EStack,
    airflow_stack,
)


@pytest.fixture(scope="module")
def e2e(pg_admin_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[E2EStack]:
    """The stack of tests/support/airflow_stack.py, for one module."""
    with airflow_stack(pg_admin_url, tmp_path_factory.mktemp("airflow-home")) as stack:
        yield stack


@pytest.fixture(scope="module")
def first_run(e2e: E2EStack) -> dict[str, Any]:
    """The module's first run (a full sync), triggered through the REST API and finished (in
    whatever state: the tests that need it assert its success)."""
    return e2e.trigger_and_wait()

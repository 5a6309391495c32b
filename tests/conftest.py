"""Fixtures shared by every test: a real PostgreSQL and a real Ploomes simulator."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]

# Airflow reads its configuration when first imported: give the test session a home of its own.
os.environ["AIRFLOW_HOME"] = tempfile.mkdtemp(prefix="ploomes-airflow-home-")
atexit.register(shutil.rmtree, os.environ["AIRFLOW_HOME"], ignore_errors=True)
os.environ.setdefault("AIRFLOW__CORE__DAGS_FOLDER", str(ROOT / "dags"))
os.environ.setdefault("AIRFLOW__CORE__PLUGINS_FOLDER", str(ROOT / "plugins"))
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")

from ploomes_devkit.postgres import admin_server, create_database, drop_database  # noqa: E402

TEST_API_KEY = "sim-key-6b1f0c2e9d4a4f7e8c3b5a1d0e9f8a7b"


@pytest.fixture(scope="session")
def pg_admin_url() -> Iterator[str]:
    """Admin URL of the test server: TEST_DATABASE_URL, the local server, or a throwaway one."""
    with admin_server(os.environ.get("TEST_DATABASE_URL")) as url:
        yield url


@pytest.fixture(scope="session")
def session_db_url(pg_admin_url: str) -> Iterator[str]:
    """A database of this test session's own, dropped at the end."""
    url = create_database(pg_admin_url)
    yield url
    drop_database(pg_admin_url, url)


@pytest.fixture
def db_url(pg_admin_url: str) -> Iterator[str]:
    """A fresh, empty database for one test, dropped after it."""
    url = create_database(pg_admin_url)
    yield url
    drop_database(pg_admin_url, url)


@pytest.fixture
def api_key() -> str:
    return TEST_API_KEY


@pytest.fixture(autouse=True)
def _secrets_read_anew() -> None:
    """The sync keeps the connections' secrets for 30 s; each test sets connections of its own."""
    from ploomes_sync import secrets

    secrets.forget()


# The slow tier: a real Airflow, many runs, other processes, a browser. `make test` runs everything;
# `make test-fast` (pytest -m "not slow", on two xdist workers) leaves these out for the daily loop.
SLOW = ("e2e/", "concurrency/", "production/", "ui/", "webhooks/e2e", "reliability/test_soak.py", "test_bench.py",
        "dags/test_sync_runs.py", "dags/test_alerts.py")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        path = item.path.relative_to(ROOT / "tests").as_posix()
        if path.startswith(SLOW) or any(path.startswith(part) for part in SLOW):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless Chromium (the system's, driven by Playwright), one a module: the UI and page tests'."""
    from playwright.sync_api import sync_playwright

    from tests.ui.conftest import chromium_path

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium_path(), headless=True,
                                              args=["--no-sandbox", "--disable-dev-shm-usage"])
        yield launched
        launched.close()

"""The Airflow UI in a real browser: Debian's Chromium, driven headless by Playwright (its Python
package only: no browser download), against the end-to-end Airflow with the plugin.

Screenshots go to build/test-artifacts/ui (see tests/support/artifacts.py).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.support.airflow_stack import E2EStack, airflow_stack
from tests.support.artifacts import artifacts_dir

CHROMIUM_CANDIDATES = ("chromium", "chromium-browser")
# Playwright's assertions wait 5 s by default; a first page of the UI (or of the plugin in its frame)
# on a busy 2-core machine can take longer, and waiting longer costs nothing when it is quicker
expect.set_options(timeout=30_000)


def chromium_path() -> str:
    """The system Chromium (CHROMIUM_PATH, else Debian's ``chromium`` on PATH); `make install` installs it."""
    path = os.environ.get("CHROMIUM_PATH") or next(filter(None, map(shutil.which, CHROMIUM_CANDIDATES)), None)
    if not path:
        raise RuntimeError("No Chromium found: run `make system-packages` (apt-get install chromium) or set "
                           "CHROMIUM_PATH to a Chromium binary.")
    return path


@pytest.fixture(scope="module")
def stack(pg_admin_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[E2EStack]:
    """The end-to-end stack after one full run (so the health page has something to show)."""
    with airflow_stack(pg_admin_url, tmp_path_factory.mktemp("airflow-home")) as stack:
        run = stack.trigger_and_wait()
        assert run["state"] == "success", stack.explain(run["dag_run_id"])
        yield stack


def login(page: Page, stack: E2EStack, next_path: str) -> None:
    """Sign in through the simple auth manager's login form, landing on ``next_path``."""
    page.goto(f"{stack.airflow.url}/auth/login?next={stack.airflow.url}{next_path}")
    page.get_by_label("Username").fill(stack.airflow.username)
    page.get_by_label("Password").fill(stack.airflow.password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"**{next_path}", timeout=30_000)


@pytest.fixture
def page(browser: Browser, request: pytest.FixtureRequest) -> Iterator[Page]:
    """A fresh browser tab (no login yet); a screenshot of where it ended is saved whatever happened."""
    context = browser.new_context(viewport={"width": 1440, "height": 1000})
    context.set_default_timeout(30_000)
    tab = context.new_page()
    yield tab
    tab.screenshot(path=str(artifacts_dir("ui") / f"{request.node.name}.png"), full_page=True)
    context.close()

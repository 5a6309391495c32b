"""The health page as an operator sees it, in a real browser (Debian's Chromium, headless) at 1440 px:
the last runs fit the screen with their errors readable, numbers are written as in Brazil, and the
DAG tab on another DAG says in one line that it is not the sync's."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
from playwright.sync_api import Browser, Page

from tests.monitoring.conftest import record_run
from tests.support.artifacts import artifacts_dir

LONG_ERROR = ("extract_orders: StreamForbidden: Stream 'orders' was not synced: Ploomes answered 403 to GET "
              "https://public-api2.ploomes.com/Orders?$select=Id,OrderNumber,DealId,ContactId,Date,Amount: the key "
              "works (GET /Account answered), so the integration user most likely lacks permission for the module")


@pytest.fixture
def page(browser: Browser, request: pytest.FixtureRequest) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    tab = context.new_page()
    yield tab
    tab.screenshot(path=str(artifacts_dir("health") / f"{request.node.name}.png"), full_page=True)
    context.close()


def test_the_last_runs_fit_a_1440_px_screen_with_their_errors_readable(history: str, served: str, page: Page):
    with psycopg.connect(history) as conn:
        record_run(conn, "scheduled__refused", status="failed", hours_ago=0.001, error=LONG_ERROR)
    page.goto(f"{served}/health")
    runs = page.locator("table#runs")
    box = runs.bounding_box()
    assert box is not None and box["x"] + box["width"] <= 1440, box
    assert page.evaluate("document.documentElement.scrollWidth") <= 1440, "the page scrolls sideways"
    error = runs.locator("tbody tr").first.locator("td").last
    assert error.inner_text().startswith("extract_orders: StreamForbidden")
    cell = error.bounding_box()
    assert cell is not None and cell["x"] + cell["width"] <= 1440 and cell["width"] >= 200, cell


def test_numbers_are_written_as_in_brazil(served: str, page: Page):
    page.goto(f"{served}/health")
    years = page.locator("table#years")
    assert "1.797.227,45" in years.inner_text() and "1.361" in years.inner_text()
    assert "scheduled__6" in page.locator("body").inner_text()  # which run's check it is


def test_the_dag_tab_on_another_dag_says_it_is_not_the_sync(served: str, page: Page):
    page.goto(f"{served}/health?dag_id=finance_daily")
    assert page.locator("#not-a-sync").inner_text().startswith("finance_daily is not one of the Ploomes sync's DAGs")
    assert page.locator("table#runs").count() == 0

"""What an operator does in the Airflow UI, in a real browser: read the sync's health page (in the
navigation and as a tab of the DAG), trigger a date-range run from the Trigger form's date pickers,
and start a backfill from the backfill dialog."""

from __future__ import annotations

from datetime import UTC, datetime

from playwright.sync_api import Page, expect

from tests.support.airflow_stack import DAG_ID, RUN_TIMEOUT, E2EStack
from tests.support.artifacts import artifacts_dir
from tests.ui.conftest import login


def shot(page: Page, name: str) -> None:
    page.screenshot(path=str(artifacts_dir("ui") / name), full_page=False)


def trigger_dialog(page: Page):
    """The Trigger / Backfill dialog (its date pickers open popovers, which are dialogs too)."""
    page.get_by_role("button", name="Trigger").first.click()
    return page.locator("[data-scope=dialog][data-part=content]")


def newest_run(stack: E2EStack, **filters) -> dict:
    runs = stack.api.list_dag_runs(DAG_ID, **filters)
    assert runs, f"no {filters} run"
    return runs[-1]


class TestHealthPage:
    def test_the_health_page_shows_tables_and_charts_in_the_ui(self, page: Page, stack: E2EStack):
        login(page, stack, "/plugin/ploomes-sync-health")
        health = page.frame_locator("iframe")
        expect(health.locator("h1")).to_have_text("Ploomes sync health")
        runs = health.locator("table#runs")
        expect(runs).to_contain_text(newest_run(stack)["dag_run_id"])
        expect(runs).to_contain_text("success")
        expect(health.locator("table#years tbody tr").first).to_contain_text("yes")
        expect(health.locator("#freshness")).to_contain_text("fresh")
        for chart in ("#chart-requests", "#chart-rows"):
            expect(health.locator(f"{chart} .main-svg").first).to_be_visible()  # drawn by the served plotly.js
            expect(health.locator(f"{chart} .bars path").first).to_be_attached()
        # The README's picture (make screenshot): the page scrolls inside the UI's iframe, so a window
        # tall enough to show all of it, down to the per-year table.
        page.set_viewport_size({"width": 1440, "height": 1650})
        page.wait_for_timeout(1000)
        shot(page, "health-page.png")

    def test_the_health_page_is_a_tab_of_the_dag(self, page: Page, stack: E2EStack):
        login(page, stack, f"/dags/{DAG_ID}")
        page.get_by_role("tab", name="Sync health").or_(page.get_by_role("link", name="Sync health")).first.click()
        expect(page.frame_locator("iframe").locator("table#runs")).to_be_visible()
        shot(page, "dag-tab.png")

    def test_without_a_login_the_browser_is_sent_to_the_login_page(self, page: Page, stack: E2EStack):
        page.goto(f"{stack.airflow.url}/ploomes-sync/health")
        expect(page.get_by_label("Username")).to_be_visible()
        assert "/auth/login" in page.url
        assert page.goto(f"{stack.airflow.url}/ploomes-sync/health.json").status == 401


class TestTriggerForm:
    def test_a_date_range_run_triggered_from_the_form_is_what_the_run_history_records(
            self, page: Page, stack: E2EStack):
        before = {run["dag_run_id"] for run in stack.api.list_dag_runs(DAG_ID)}
        login(page, stack, f"/dags/{DAG_ID}")
        dialog = trigger_dialog(page)
        from_date, to_date = dialog.locator("#element_from_date"), dialog.locator("#element_to_date")
        expect(from_date).to_have_attribute("type", "date")  # the params' format: date gives date pickers
        expect(to_date).to_have_attribute("type", "date")
        from_date.fill("2025-03-01")
        to_date.fill("2025-03-31")
        shot(page, "trigger-form.png")
        dialog.get_by_role("button", name="Trigger").click()
        expect(dialog).to_be_hidden()

        run = next(run for run in stack.api.list_dag_runs(DAG_ID) if run["dag_run_id"] not in before)
        assert run["conf"] == {"from_date": "2025-03-01", "to_date": "2025-03-31", "full_refresh": False,
                               "confirm_mass_deletion": False}
        done = stack.api.wait_for_dag_run(DAG_ID, run["dag_run_id"], timeout=RUN_TIMEOUT, alive=stack.alive)
        assert done["state"] == "success", stack.explain(run["dag_run_id"])
        with stack.connect() as conn:
            mode, window_start, window_end, status = conn.execute(
                "SELECT mode, window_start, window_end, status FROM ploomes_sync.run_history WHERE run_id = %s",
                [run["dag_run_id"]]).fetchone()
        assert (mode, status) == ("range", "success")
        # São Paulo midnight of March 1 to São Paulo midnight after March 31 (UTC-3)
        assert window_start == datetime(2025, 3, 1, 3, tzinfo=UTC)
        assert window_end == datetime(2025, 4, 1, 3, tzinfo=UTC)


class TestBackfillDialog:
    def test_a_backfill_started_from_the_dialog_runs(self, page: Page, stack: E2EStack):
        login(page, stack, f"/dags/{DAG_ID}")
        dialog = trigger_dialog(page)
        dialog.get_by_text("Backfill", exact=True).click()
        pickers = dialog.get_by_test_id("datetime-input")
        for picker, (day, hour) in zip(pickers.all()[:2], (("2026/11/20", "03:00"), ("2026/11/20", "09:00")),
                                       strict=True):
            picker.click()
            popover = page.locator("[data-scope=popover][data-part=content][data-state=open]")
            popover.get_by_placeholder("YYYY/MM/DD").fill(day)
            popover.get_by_placeholder("HH:mm").fill(hour)
            page.keyboard.press("Escape")
        expect(pickers.nth(0)).to_contain_text("Nov 20, 2026 03:00")
        expect(pickers.nth(1)).to_contain_text("Nov 20, 2026 09:00")
        shot(page, "backfill-dialog.png")
        dialog.get_by_role("button", name="Run Backfill").click()
        expect(dialog).to_be_hidden()

        (backfill,) = stack.api.list_backfills(DAG_ID)
        stack.api.wait_for_backfill(backfill["id"], timeout=420, alive=stack.alive)
        runs = stack.api.list_dag_runs(DAG_ID, run_type="backfill")
        assert runs and all(run["state"] == "success" for run in runs), [(r["dag_run_id"], r["state"]) for r in runs]
        with stack.connect() as conn:
            recorded = conn.execute("SELECT run_type, mode, status FROM ploomes_sync.run_history "
                                    "WHERE run_id = ANY(%s)", [[run["dag_run_id"] for run in runs]]).fetchall()
        # one of them re-synced the backfill's range; the others saw it done and ended in plan_run
        assert len(runs) >= 2 and recorded == [("backfill", "range", "success")], recorded

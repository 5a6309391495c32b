"""The DAG in a real Airflow: a run triggered through the REST API, a run that fails for good on a
revoked key (one e-mail per failed task, no retry), and Airflow's own backfill with overlapping runs
(one re-sync for the backfill's range, its other runs ending in plan_run).

The three share one Airflow (see conftest.py); each asserts only on the runs it made.
"""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from ploomes_sync.streams import registry
from tests.e2e.conftest import DAG_ID, E2E_API_KEY, E2E_DEALS, E2EStack
from tests.support.smtp import Mailbox
from tests.support.truth import make_stale

SAO_PAULO = ZoneInfo("America/Sao_Paulo")
TASKS = {"plan_run", "check_ploomes_key", "list_deletions", "reconcile_deletions",
         "aggregate_customer_sales", "validate_by_year", "finish_run",
         *(f"extract_{s.name}" for s in registry()), *(f"load_{s.target}" for s in registry())}


def sao_paulo_day(deal: dict[str, Any]) -> date:
    return datetime.fromisoformat(deal["CreateDate"]).astimezone(SAO_PAULO).date()


def moment(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def subject_task(message: Any, tasks: set[str]) -> str | None:
    """The task a failure e-mail is about, from its subject ``[Airflow] <dag>.<task> failed (run …)``."""
    for task in tasks:
        if f"{DAG_ID}.{task} failed" in message["Subject"]:
            return task
    return None


class TestTriggeredRun:
    def test_a_run_triggered_through_the_rest_api_fills_the_warehouse(self, e2e: E2EStack, first_run):
        run_id = first_run["dag_run_id"]
        assert first_run["state"] == "success", e2e.explain(run_id)
        assert first_run["run_type"] == "manual"
        states = e2e.api.task_states(DAG_ID, run_id)
        # the full run's extracts are its listings: the listing task has nothing to do, and says so
        assert states == {**dict.fromkeys(TASKS, "success"), "list_deletions": "skipped"}, e2e.explain(run_id)

        truth = e2e.sim.admin.truth_deals()
        assert len(truth) == E2E_DEALS
        assert e2e.sales_count() == len(truth)
        record = e2e.history(run_id)
        assert (record["status"], record["mode"], record["run_type"]) == ("success", "full", "manual")
        assert record["year_table"] and all(row["ok"] for row in record["year_table"]), record["year_table"]
        assert sum(row["warehouse_deals"] for row in record["year_table"]) == len(truth)
        assert not [m for m in e2e.mailbox.messages if run_id in m["Subject"]], "a successful run sent e-mail"


class TestRevokedKey:
    def test_a_revoked_key_fails_once_without_retry_and_sends_exactly_one_email(self, e2e: E2EStack, first_run):
        sales_before = e2e.sales_count()
        e2e.mailbox.messages.clear()
        e2e.sim.admin.clear_requests()
        e2e.sim.admin.configure(api_key="revoked")  # Ploomes no longer accepts the connection's key
        try:
            run = e2e.trigger_and_wait()
            api_requests = e2e.sim.admin.requests()
        finally:
            e2e.sim.admin.configure(api_key=E2E_API_KEY)
        run_id = run["dag_run_id"]
        assert run["state"] == "failed", e2e.explain(run_id)

        tis = {ti["task_id"]: ti for ti in e2e.api.task_instances(DAG_ID, run_id)}
        check = tis["check_ploomes_key"]
        assert check["state"] == "failed", e2e.explain(run_id)
        assert check["try_number"] == 1 and check["max_tries"] == 3, "a 403 must fail at once, not be retried"
        assert tis["extract_deals"]["state"] == tis["extract_contacts"]["state"] == "upstream_failed"
        assert [r["status"] for r in api_requests] == [403], "one request, refused, not retried"

        # settle: a second e-mail, were one sent, would arrive while we wait
        messages = e2e.wait_for_mail(lambda messages: len(messages) >= 1, settle=5.0)
        assert len(messages) == 1, [m["Subject"] for m in messages]
        mail = messages[0]
        assert subject_task(mail, TASKS) == "check_ploomes_key"
        body = Mailbox.text(mail)
        assert run_id in mail["Subject"]
        recipients = {address.addr_spec for address in mail["To"].addresses}
        assert recipients == {"data-team@example.test", "oncall@example.test"}
        assert "403" in body and "User-Key" in body, body
        for message in messages:
            assert E2E_API_KEY not in message.as_string(), "the key leaked into an e-mail"
        for path in e2e.airflow.task_log_files(DAG_ID, run_id, "check_ploomes_key"):
            assert E2E_API_KEY not in path.read_text(errors="replace"), f"the key leaked into {path}"

        assert e2e.history(run_id)["status"] == "failed"
        assert e2e.sales_count() == sales_before, "a failed extract must not change the warehouse"


class TestAirflowBackfill:
    def test_a_two_day_backfill_re_syncs_its_range_once_and_its_other_runs_end_in_plan_run(
        self, e2e: E2EStack, first_run
    ):
        assert first_run["state"] == "success", e2e.explain(first_run["dag_run_id"])
        truth = e2e.sim.admin.truth_deals()
        days = Counter(sao_paulo_day(deal) for deal in truth)  # the busiest two days starting in 2024
        first_day = max(sorted(day for day in days if day.year == 2024),
                        key=lambda day: days[day] + days[day + timedelta(days=1)])
        second_day = first_day + timedelta(days=1)
        in_range = [d for d in truth if sao_paulo_day(d) in (first_day, second_day)]
        assert in_range
        with e2e.connect() as conn:  # rows edited by hand: the backfill restores them
            make_stale(conn, [d["Id"] for d in in_range])

        by_range = e2e.trigger_and_wait({"from_date": first_day.isoformat(), "to_date": second_day.isoformat()})
        assert by_range["state"] == "success", e2e.explain(by_range["dag_run_id"])
        range_requests = e2e.history(by_range["dag_run_id"])["api_requests"]
        with e2e.connect() as conn:
            make_stale(conn, [d["Id"] for d in in_range])

        start = datetime.combine(first_day, time(0), tzinfo=SAO_PAULO)
        last = datetime.combine(second_day, time(18), tzinfo=SAO_PAULO)  # logical dates are inclusive
        e2e.sim.admin.clear_requests()
        backfill = e2e.api.create_backfill(DAG_ID, start, last, max_active_runs=2)
        e2e.api.wait_for_backfill(backfill["id"], timeout=420, alive=e2e.alive)
        spent = len(e2e.sim.admin.requests())

        runs = e2e.api.list_dag_runs(DAG_ID, run_type="backfill")
        assert len(runs) == 8, [r["dag_run_id"] for r in runs]
        failed = [r["dag_run_id"] for r in runs if r["state"] != "success"]
        assert not failed, "\n".join(e2e.explain(run_id) for run_id in failed)
        intervals = sorted((moment(r["data_interval_start"]), moment(r["data_interval_end"])) for r in runs)
        assert intervals[0][0] == start and intervals[-1][1] == start + timedelta(days=2)
        assert all(end - begin == timedelta(hours=6) for begin, end in intervals)

        with e2e.connect() as conn:
            recorded = conn.execute("SELECT run_id, mode, status, window_start, window_end, streams "
                                    "FROM ploomes_sync.run_history WHERE run_type = 'backfill'").fetchall()
        assert len(recorded) == 1, recorded  # one run re-synced the backfill's whole range ...
        claimer, mode, status, window_start, window_end, streams = recorded[0]
        assert (mode, status, window_start, window_end) == ("range", "success", start, start + timedelta(days=2))
        assert streams["deals"]["fetched"] == len(in_range)
        for run in runs:  # ... and the other seven ended in plan_run, every other task skipped
            if run["dag_run_id"] != claimer:
                states = e2e.api.task_states(DAG_ID, run["dag_run_id"])
                assert states == {**dict.fromkeys(TASKS, "skipped"), "plan_run": "success"}, states
        assert spent <= 3 * range_requests, (spent, range_requests)
        with e2e.connect() as conn:
            titles = dict(conn.execute("SELECT id, title FROM public.sales WHERE id = ANY(%s)",
                                       [[d["Id"] for d in in_range]]).fetchall())
        assert titles == {d["Id"]: d["Title"] for d in in_range}, "the edited rows are restored"
        assert e2e.sales_count() == len(truth)
        assert not e2e.mailbox.messages or all(r["dag_run_id"] not in m["Subject"]
                                               for m in e2e.mailbox.messages for r in runs)

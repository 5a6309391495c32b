"""Failure e-mails, end to end: a real DAG run fails and a real SMTP server receives one message."""

from __future__ import annotations

import html

import pytest

from tests.support.connections import use_smtp
from tests.support.smtp import Mailbox, smtp_server


@pytest.fixture
def mailbox(monkeypatch):
    with smtp_server() as box:
        use_smtp(monkeypatch, box.port, "data-team@example.test, oncall@example.test")
        yield box


class TestFailureEmail:
    def test_revoked_key_fails_without_retry_and_sends_exactly_one_email(self, harness, mailbox, api_key):
        harness.sim.admin.configure(api_key="a-new-key-nobody-gave-us")
        run = harness.run()
        states = harness.task_states(run)
        assert states["check_ploomes_key"] == "failed"
        assert states["extract_deals"] == states["extract_contacts"] == "upstream_failed"
        api_requests = harness.sim.admin.requests()
        assert [r["status"] for r in api_requests] == [403], "one request, refused, not retried"
        tis = {ti.task_id: ti for ti in run.get_task_instances()}
        assert tis["check_ploomes_key"].try_number == 1, "a 403 must not be retried"

        assert len(mailbox.messages) == 1, [m["Subject"] for m in mailbox.messages]
        mail = mailbox.messages[0]
        assert "check_ploomes_key" in mail["Subject"]
        body = Mailbox.text(mail)
        assert "ploomes_sales_sync" in mail["Subject"] and run.run_id in mail["Subject"]
        assert set(mail["To"].addresses[i].addr_spec for i in range(2)) == {
            "data-team@example.test", "oncall@example.test"}
        assert "403" in body and "User-Key" in body and "Integra" in body  # what happened, how to fix
        assert "try 1" in body and "http" in body  # try number and a link to the log
        for message in mailbox.messages:
            assert api_key not in message.as_string()

    def test_validation_mismatch_sends_one_email_with_the_year_table(self, harness, mailbox):
        from tests.dags.test_sync_runs import succeeded

        assert succeeded(harness, harness.run())
        # the won deal Ploomes changed longest ago: no incremental window reads it again
        won = min((d for d in harness.sim.admin.truth_deals() if d["StatusId"] == 2 and d.get("Amount")),
                  key=lambda d: d["LastUpdateDate"])
        with harness.connect() as conn:
            conn.execute("UPDATE public.sales SET deal_value = deal_value + 7 WHERE id = %s", [won["Id"]])
        # the reconcile would read it again by Id and repair it: that read answers nothing, so it stays wrong
        harness.sim.admin.set_faults(schedule=[{"kind": "empty", "count": 100, "path": "/Deals", "filter": "Id eq"}])
        mailbox.messages.clear()
        harness.run()
        assert [m["Subject"].split()[1] for m in mailbox.messages] == ["ploomes_sales_sync.validate_by_year"]
        body = Mailbox.text(mailbox.messages[0])
        assert "ploomes_won_revenue" in body and won["CreateDate"][:4] in body and str(won["Id"]) in body
        harness.sim.admin.clear_faults()  # the next run reads the deal the check named again, and repairs it
        mailbox.messages.clear()
        assert succeeded(harness, harness.run()) and mailbox.messages == []

    def test_no_recipients_configured_sends_nothing(self, harness, mailbox,
                                                    monkeypatch):
        monkeypatch.delenv("AIRFLOW_VAR_PLOOMES_SYNC_ALERT_EMAILS")
        harness.sim.admin.configure(api_key="another-wrong-key")
        harness.run()
        assert mailbox.messages == []

    def test_a_refused_mass_deletion_fails_at_once_and_sends_one_email_with_the_counts(self, harness, mailbox):
        from tests.dags.test_sync_runs import succeeded

        assert succeeded(harness, harness.run())
        harness.sim.admin.configure(hidden_deals_percent=60)  # the integration user lost most deals
        mailbox.messages.clear()
        run = harness.run()
        states = harness.task_states(run)
        assert states["reconcile_deletions"] == "failed" and states["finish_run"] == "success"
        assert {ti.task_id: ti for ti in run.get_task_instances()}["reconcile_deletions"].try_number == 1
        assert [m["Subject"].split()[1] for m in mailbox.messages] == ["ploomes_sales_sync.reconcile_deletions"]
        body = Mailbox.text(mailbox.messages[0])
        assert "Refused to remove" in body and "of the 900 rows of public.sales" in body
        assert "confirm_mass_deletion" in body
        with harness.connect() as conn:
            assert conn.execute("SELECT count(*) FROM public.sales").fetchone()[0] == 900


class TestMistakesFailAtOnce:
    """A failure no retry can change fails its task on the first try, with one e-mail that says what to do."""

    @staticmethod
    def failed_once(harness, run, task_id: str) -> None:
        states = harness.task_states(run)
        assert states[task_id] == "failed", states
        assert {ti.task_id: ti for ti in run.get_task_instances()}[task_id].try_number == 1, "never retried"

    def test_a_configuration_that_is_not_json(self, harness, mailbox, monkeypatch):
        monkeypatch.setenv("AIRFLOW_VAR_PLOOMES_SYNC_CONFIG", '{"lookback_minutes": 30,}')
        run = harness.run()
        self.failed_once(harness, run, "plan_run")
        assert [m["Subject"].split()[1] for m in mailbox.messages] == ["ploomes_sales_sync.plan_run"]
        body = html.unescape(Mailbox.text(mailbox.messages[0]))
        assert "ploomes_sync_config" in body and "not valid JSON" in body and "not retried" in body

    def test_a_connection_whose_variable_is_misspelt(self, harness, mailbox, monkeypatch):
        value = monkeypatch.delenv("AIRFLOW_CONN_PLOOMES_DEFAULT") or ""
        monkeypatch.setenv("AIRFLOW_CONN_PLOOMES_DEFALT", value or "{}")
        run = harness.run()
        self.failed_once(harness, run, "check_ploomes_key")
        assert [m["Subject"].split()[1] for m in mailbox.messages] == ["ploomes_sales_sync.check_ploomes_key"]
        body = html.unescape(Mailbox.text(mailbox.messages[0]))
        assert "'ploomes_default'" in body and "AIRFLOW_CONN_PLOOMES_DEFAULT" in body and "misspelt" in body

    def test_a_warehouse_database_that_does_not_exist(self, harness, mailbox, monkeypatch):
        from tests.support.connections import use_sales_db

        use_sales_db(monkeypatch, harness.db_url.rsplit("/", 1)[0] + "/no_such_warehouse")
        run = harness.run()
        self.failed_once(harness, run, "plan_run")
        assert len(mailbox.messages) == 1, [m["Subject"] for m in mailbox.messages]
        body = html.unescape(Mailbox.text(mailbox.messages[0]))
        assert "'sales_db'" in body and 'database "no_such_warehouse" does not exist' in body
        assert "could not be reached" in body and "does not record this failure" in body  # no false claim

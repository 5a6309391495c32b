"""Failure e-mails and the run-history record of a failed task; the sender of every alert e-mail.

The first two are task ``on_failure_callback``s, which Airflow calls once, when a task fails for
good (after its retries), not on each retry.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Sequence
from typing import Any

from airflow.providers.common.compat.sdk import AirflowFailException
from airflow.providers.smtp.hooks.smtp import SmtpHook
from airflow.providers.smtp.notifications.smtp import SmtpNotifier

from ploomes_sync.config import alert_recipients
from ploomes_sync.secrets import redact
from ploomes_sync.settings import DEFAULT_ALERT_FROM, SALES_DB_CONN_ID, SMTP_CONN_ID

log = logging.getLogger(__name__)


def describe_failure(context: dict[str, Any]) -> tuple[str, str]:
    """Subject and HTML body of the e-mail for a task that failed for good."""
    ti = context["ti"]
    dag_id, task_id = ti.dag_id, ti.task_id
    run_id = getattr(context.get("dag_run"), "run_id", None) or ti.run_id
    error = context.get("exception")
    error_text = f"{type(error).__name__}: {error}" if error is not None else "(no exception was recorded)"
    log_url = getattr(ti, "log_url", "") or ""
    subject = f"[Airflow] {dag_id}.{task_id} failed (run {run_id})"
    if isinstance(error, AirflowFailException):
        tries = f"try {ti.try_number}, not retried: a retry cannot change this failure"
    else:
        tries = f"try {ti.try_number} of {getattr(ti, 'max_tries', 0) + 1}"
    if warehouse_unreachable(error):
        history = ("<p>The warehouse could not be reached, so <code>ploomes_sync.run_history</code> does not "
                   "record this failure; the warehouse keeps its last consistent state.</p>")
    else:
        history = ("<p>The warehouse keeps its last consistent state; watermarks move only after a load commits, "
                   "so the next successful run catches up. Run history: "
                   "<code>SELECT * FROM ploomes_sync.run_history ORDER BY started_at DESC LIMIT 5;</code></p>")
    # The body quotes a query for the reader to run; it is an e-mail, never executed (hence the noqa).
    body = (
        f"<p>Task <b>{html.escape(task_id)}</b> of DAG <b>{html.escape(dag_id)}</b> failed for good "  # noqa: S608
        f"in run <code>{html.escape(str(run_id))}</code> ({tries}).</p>"
        f"<h3>What happened</h3><pre>{html.escape(error_text)}</pre>"
        f'<p>Log: <a href="{html.escape(log_url)}">{html.escape(log_url)}</a></p>'
        f"{history}"
    )
    return redact(subject), redact(body)


def warehouse_unreachable(error: BaseException | None) -> bool:
    """Whether ``error`` says the warehouse could not be reached (so nothing could be recorded there)."""
    import psycopg

    from ploomes_sync.connections import ConnectionMissing
    from ploomes_sync.warehouse.errors import WarehouseRefused

    return isinstance(error, WarehouseRefused | psycopg.OperationalError) or (
        isinstance(error, ConnectionMissing) and error.conn_id == SALES_DB_CONN_ID)


def sender_address(hook: SmtpHook, smtp_conn_id: str = SMTP_CONN_ID) -> str:
    """The From of alert e-mails: extra ``from_email`` of the SMTP connection, else the default."""
    return hook.get_connection(smtp_conn_id).extra_dejson.get("from_email", DEFAULT_ALERT_FROM)


def send_email(recipients: Sequence[str], subject: str, html_body: str, smtp_conn_id: str = SMTP_CONN_ID) -> None:
    """Send one HTML e-mail through connection ``smtp_conn_id`` (errors propagate)."""
    with SmtpHook(smtp_conn_id=smtp_conn_id) as smtp:
        smtp.send_email_smtp(to=list(recipients), subject=subject, html_content=html_body,
                             from_email=sender_address(smtp, smtp_conn_id))


class FailureEmail(SmtpNotifier):
    """Sends one e-mail per task that failed for good, to the configured recipients."""

    def __init__(self, smtp_conn_id: str = SMTP_CONN_ID, from_email: str | None = None) -> None:
        super().__init__(to=[], smtp_conn_id=smtp_conn_id, from_email=from_email,
                         subject="", html_content="")

    def notify(self, context: dict[str, Any]) -> None:  # type: ignore[override]
        recipients = alert_recipients()
        if not recipients:
            log.warning(
                "No failure e-mail sent: no recipients. Set the Airflow Variable ploomes_sync_alert_emails "
                "(or the environment variable AIRFLOW_VAR_PLOOMES_SYNC_ALERT_EMAILS) to a comma-separated list."
            )
            return
        self.to = recipients
        if self.from_email is None:
            self.from_email = sender_address(self.hook, self.smtp_conn_id)
        self.subject, self.html_content = describe_failure(context)
        super().notify(context)
        log.info("Failure e-mail sent to %s", ", ".join(recipients))


def record_failure(context: dict[str, Any]) -> None:
    """Mark the run failed in ``ploomes_sync.run_history`` with the task and the error."""
    import psycopg

    from ploomes_sync import warehouse
    from ploomes_sync.connections import ConnectionMissing, connect_warehouse
    from ploomes_sync.warehouse.errors import WarehouseRefused

    ti = context["ti"]
    error = context.get("exception")
    message = redact(f"{ti.task_id}: {type(error).__name__}: {error}")
    run_id = ti.run_id
    try:
        with connect_warehouse() as conn:
            warehouse.finish_run(conn, run_id, status="failed", error=message[:4000])
    except (psycopg.Error, WarehouseRefused, ConnectionMissing) as exc:
        # The warehouse may be what failed; the e-mail (the other callback) still goes out.
        log.warning("Could not mark run %s failed in ploomes_sync.run_history (%s): %s",
                    run_id, type(exc).__name__, redact(str(exc)))

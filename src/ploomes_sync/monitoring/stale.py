"""The stale-data alert: one e-mail per breach when no sync run has succeeded for too long.

A *breach* is named by the last success it follows (the epoch when there never was one): the
watchdog DAG checks every half hour, and ``ploomes_sync.stale_alerts`` remembers which breaches
were announced, so an e-mail goes out once, when the bound is first crossed, and again only after
a run has succeeded and the data went stale anew.

Airflow 3's deadline alerts do not fit: a deadline belongs to a DAG run and fires when that run
is late, so it says nothing when no run starts at all (the DAG paused, the scheduler stopped
creating runs, every run failing fast and its e-mail missed), which is how the old sync went
stale for months.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import psycopg

from ploomes_sync.warehouse.connection import fetchdicts, fetchone, transaction
from ploomes_sync.warehouse.sqlfiles import load

log = logging.getLogger(__name__)

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
#: Called with (recipients, subject, HTML body); raising leaves the breach unannounced (tried again).
Send = Callable[[Sequence[str], str, str], None]


@dataclass(frozen=True)
class StaleCheck:
    """What the watchdog found and did."""

    now: datetime
    last_success: datetime | None
    stale_for_seconds: float | None  # since the last success (None: never succeeded)
    stale: bool
    alerted: bool  # an e-mail went out now
    already_alerted: bool  # this breach was announced before


def describe(last_success: datetime | None, now: datetime, bound_hours: float, dag_id: str) -> tuple[str, str]:
    """Subject and HTML body of the alert."""
    if last_success is None:
        since = "no sync run has ever succeeded"
        subject = f"[Airflow] {dag_id}: the warehouse has never been synced"
    else:
        hours = (now - last_success).total_seconds() / 3600
        since = f"the last successful sync run ended {hours:.1f} hours ago ({last_success.isoformat()})"
        subject = f"[Airflow] {dag_id}: warehouse data is stale ({hours:.0f} h since the last successful run)"
    body = (
        f"<p>No run of <b>{html.escape(dag_id)}</b> has succeeded for more than {bound_hours:g} hours: "
        f"{html.escape(since)}. The dashboards read data that old.</p>"
        "<h3>What to do</h3><ol>"
        "<li>In the Airflow UI, check that the DAG is not paused and look at its latest runs.</li>"
        "<li>Open the sync's health page (Ploomes sync health in the navigation) for failures, rejects "
        "and the API's answers.</li>"
        "<li>Fix the cause and trigger a run; the next successful run catches up on everything missed.</li>"
        "</ol><p>This e-mail is sent once per breach; the next one comes only after a run has succeeded "
        "and the data has gone stale again. The bound is <code>stale_after_hours</code> in the "
        "<code>ploomes_sync_config</code> Variable.</p>"
    )
    return subject, body


def check_stale(conn: psycopg.Connection, *, bound_hours: float, recipients: Sequence[str], send: Send,
                dag_id: str) -> StaleCheck:
    """Send the alert when the data is stale and this breach was not announced yet."""
    with transaction(conn):
        fresh = fetchdicts(conn, load("health/freshness.sql"))[0]
        now, last_success = fresh["now"], fresh["last_success"]
        stale_for = None if last_success is None else (now - last_success).total_seconds()
        if stale_for is not None and stale_for <= bound_hours * 3600:
            return StaleCheck(now, last_success, stale_for, False, False, False)
        if not recipients:
            log.warning("%s, but no alert e-mail can be sent: no recipients. Set the Airflow Variable "
                        "ploomes_sync_alert_emails.", describe(last_success, now, bound_hours, dag_id)[0])
            return StaleCheck(now, last_success, stale_for, True, False, False)
        breach = last_success or EPOCH
        claimed = fetchone(conn, load("health/claim_stale_alert.sql"), {
            "last_success": breach, "stale_for": (now - breach), "recipients": ", ".join(recipients)})
        if claimed is None:
            log.info("Data stale since %s; this breach was already announced", breach.isoformat())
            return StaleCheck(now, last_success, stale_for, True, False, True)
        subject, body = describe(last_success, now, bound_hours, dag_id)
        send(recipients, subject, body)  # raising rolls the claim back: the next check tries again
        log.warning("Stale-data alert sent to %s: %s", ", ".join(recipients), subject)
    return StaleCheck(now, last_success, stale_for, True, True, False)

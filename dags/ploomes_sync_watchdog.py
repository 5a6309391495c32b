"""
# Ploomes sync watchdog: stale-data alert

Every half hour, checks how long ago a run of `ploomes_sales_sync` that reads every change (a
scheduled, full or manual run; not a date range or a backfill) last succeeded, as recorded in the
warehouse. Beyond `stale_after_hours` (8 by default, in Variable `ploomes_sync_config`) it
e-mails the recipients of `ploomes_sync_alert_emails`, even though no task failed: the DAG may
be paused, the scheduler may have stopped creating its runs, or every run may be failing. One
e-mail per breach: the next comes only after a run has succeeded and the data went stale again.

Airflow's deadline alerts watch a run that exists; they cannot say that no run succeeds at all.
For a check that also works when Airflow itself is down, scrape `/ploomes-sync/metrics`
(`ploomes_sync_freshness_seconds`) from outside.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import dag, task

from ploomes_sync.alerts import FailureEmail, send_email
from ploomes_sync.connections import connect_warehouse
from ploomes_sync.settings import DAG_ID, WATCHDOG_DAG_ID


@dag(
    dag_id=WATCHDOG_DAG_ID,
    schedule=timedelta(minutes=30),
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    default_args={"owner": "data", "retries": 2, "retry_delay": timedelta(minutes=2),
                  "on_failure_callback": [FailureEmail()]},
    tags=["ploomes", "monitoring"],
    doc_md=__doc__,
)
def ploomes_sync_watchdog():
    @task(execution_timeout=timedelta(minutes=5))
    def check_freshness() -> dict:
        from ploomes_sync import warehouse
        from ploomes_sync.config import alert_recipients, load_config
        from ploomes_sync.monitoring.stale import check_stale

        config = load_config()
        with connect_warehouse() as conn:
            warehouse.migrate(conn)  # a new install's first check may come before the sync's first run
            result = check_stale(conn, bound_hours=config.stale_after_hours, recipients=alert_recipients(),
                                 send=send_email, dag_id=DAG_ID)
        return {"stale": result.stale, "alerted": result.alerted, "already_alerted": result.already_alerted,
                "stale_for_seconds": result.stale_for_seconds}

    check_freshness()


ploomes_sync_watchdog()

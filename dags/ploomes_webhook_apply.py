"""
# Ploomes webhooks → warehouse

Applies the deliveries Ploomes posts to the receiver (`POST /ploomes-sync/webhooks` on the API
server) within seconds, so dashboards need not wait for the 6-hourly sync.

It has no schedule: the Asset `ploomes_sync.webhook_inbox` is watched by a trigger in Airflow's
triggerer that fires when new events are pending in `ploomes_sync.webhook_inbox`; each firing runs
this DAG. So a run means there was work. Its task then keeps watching the inbox for
`webhook_linger_seconds` (15 s) after the last event it applied, and applies what arrives at once:
a burst of changes is applied by one run as it comes, and the task holds its pool slot for those
seconds after the last event, never longer.

`apply_webhook_events` re-reads the touched records of every stream (deals, contacts, products,
quotes, orders with their lines) from Ploomes by Id (the payload is never trusted), merges them
with the sync's stale-write guard, archives those Ploomes no longer has (under the mass-deletion
guard), recomputes the affected customers' `customer_sales` rows (and a changed catalogue price's
`product_prices` period) and marks the events applied. It uses pool `ploomes_api` and the
account's request budget, like the sync. Duplicates and out-of-order deliveries change nothing.

A delivery that never arrives is caught by the next scheduled run of `ploomes_sales_sync`: the
webhooks make data fresher, never less correct. Set them up with the DAG `ploomes_webhook_setup`.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import Asset, AssetWatcher, dag, task

from ploomes_sync.alerts import FailureEmail
from ploomes_sync.assets import CUSTOMER_SALES, GROUP, asset_of
from ploomes_sync.connections import budgeted_hook, connect_warehouse
from ploomes_sync.settings import API_POOL, WEBHOOK_DAG_ID
from ploomes_sync.streams import registry
from ploomes_sync.webhooks.trigger import InboxTrigger

INBOX = Asset(name="ploomes_sync.webhook_inbox", uri="warehouse://sales_db/ploomes_sync/webhook_inbox", group=GROUP,
              watchers=[AssetWatcher(name="ploomes_sync_inbox_watcher", trigger=InboxTrigger())])


@dag(
    dag_id=WEBHOOK_DAG_ID,
    schedule=[INBOX],
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=timedelta(hours=1),
    default_args={"owner": "data", "retries": 3, "retry_delay": timedelta(seconds=30),
                  "retry_exponential_backoff": True, "max_retry_delay": timedelta(minutes=10),
                  "on_failure_callback": [FailureEmail()]},
    tags=["ploomes", "webhooks", "warehouse"],
    doc_md=__doc__,
)
def ploomes_webhook_apply():
    tables = [asset_of(table) for stream in registry() for table in stream.tables]

    @task(pool=API_POOL, outlets=[*tables, CUSTOMER_SALES], execution_timeout=timedelta(minutes=30))
    def apply_webhook_events(*, dag_run=None) -> dict:
        from ploomes_sync.config import load_config
        from ploomes_sync.webhooks.apply import apply_until_quiet

        with connect_warehouse() as conn, connect_warehouse() as reject_conn:
            applies = apply_until_quiet(hook=budgeted_hook(), conn=conn, reject_conn=reject_conn, config=load_config(),
                                        run_id=f"webhook__{dag_run.run_id}", dag_id=WEBHOOK_DAG_ID)
        return {"applies": [applied.as_dict() for applied in applies if applied.events or applied is applies[0]],
                "events": sum(applied.events for applied in applies)}

    apply_webhook_events()


ploomes_webhook_apply()

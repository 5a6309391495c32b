"""
# Ploomes webhooks: set up (or remove)

Trigger it once, after creating connection `ploomes_webhook` (host: the public base URL of the
Airflow API server as Ploomes reaches it; password: a long random validation key). It registers in
Ploomes, for deals and for contacts, a webhook for every action `GET /Webhooks@Actions` lists,
pointing at `<host>/ploomes-sync/webhooks`. Running it again creates no duplicates (and replaces
webhooks registered with an older key, after a key rotation).

With the param `remove` set, it removes every webhook pointing at the receiver instead.

It first applies the sync's migrations, so the inbox exists before the first delivery.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import Param, dag, task

from ploomes_sync.alerts import FailureEmail
from ploomes_sync.connections import budgeted_hook, connect_warehouse
from ploomes_sync.settings import WEBHOOK_SETUP_DAG_ID


@dag(
    dag_id=WEBHOOK_SETUP_DAG_ID,
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    default_args={"owner": "data", "retries": 0, "on_failure_callback": [FailureEmail()]},
    params={"remove": Param(False, type="boolean", title="Remove the webhooks",
                            description="Remove every webhook that points at this receiver instead of registering.")},
    tags=["ploomes", "webhooks"],
    doc_md=__doc__,
)
def ploomes_webhook_setup():
    @task(execution_timeout=timedelta(minutes=15))
    def migrate_schema() -> list[str]:
        from ploomes_sync import tasks

        with connect_warehouse() as conn:
            return tasks.migrate_schema(conn)

    @task(execution_timeout=timedelta(minutes=15))
    def register_webhooks(*, params=None) -> dict:
        from ploomes_sync.config import load_config
        from ploomes_sync.streams import registry
        from ploomes_sync.webhooks import registration

        callback_url, key = registration.receiver_settings()
        hook = budgeted_hook()
        if params["remove"]:
            return registration.remove(hook, callback_url).as_dict()
        config = load_config()
        streams = registry(config.quote_entity_id)
        return registration.register(hook, callback_url, key, streams).as_dict()

    migrate_schema() >> register_webhooks()


ploomes_webhook_setup()

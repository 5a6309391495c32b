"""
# Ploomes → warehouse sales sync

Keeps `public.sales`, `public.customers`, `public.customer_sales` and the price history
(`products`, `product_prices`, `orders`, `order_items`, `quotes`, `quote_items` and the view
`customer_price_history`) in the warehouse (connection `sales_db`) equal to Ploomes (connection
`ploomes_default`), every 6 hours.

```
plan_run → check_ploomes_key ─┬→ extract_contacts → load_customers ─┬→ list_deletions
                              ├→ extract_deals ───→ load_sales ─────┤        ↓
                              ├→ extract_products → load_products ──┤        ↓
                              ├→ extract_quotes ──→ load_quotes ────┤        ↓
                              └→ extract_orders ──→ load_orders ────┘        ↓
   finish_run (teardown) ← validate_by_year ← aggregate_customer_sales ← reconcile_deletions ←─┘
```

- `plan_run`: applies pending SQL migrations, then decides the run's mode, windows and listings and
  opens its row in `ploomes_sync.run_history`. A backfill run whose interval another run of its
  backfill re-syncs ends here, every other task skipped.
- `check_ploomes_key`: one cheap request; a refused User-Key fails here, once, with no retry.
- `extract_<stream>` (one per stream of the registry): page through Ploomes into staging tables
  under `ploomes_sync` (large reads in Id ranges side by side; orders and quotes with their lines);
  bad records go to `ploomes_sync.rejects` with the reason.
- `load_<table>`: merge staging into `public` in one short transaction each; the watermark, the
  touched `customer_sales` rows, an order's or a quote's lines and the catalogue's price history
  move with them.
- `list_deletions`: which records of each stream Ploomes still has: by `$count` over Id ranges where
  the API answers it, else (and once a day) by listing every record lightly. *Skipped* when no
  listing is due or the extracts already read every record (full and date-range runs).
- `reconcile_deletions`: rows Ploomes no longer has are archived under `ploomes_sync` and removed;
  a mass deletion (over 200 rows, or over 2% of a table) is refused unless confirmed.
- `aggregate_customer_sales`: recomputes `public.customer_sales` from the tables as they are.
- `validate_by_year`: compares the warehouse, record by record, with what the run listed; per São
  Paulo year for deals and orders. It writes nothing to `public`; any difference fails it.
- `finish_run`: records the run's status and drops its staging, whatever happened.

**Modes.** A scheduled run reads what changed since the last watermark (less a lookback), up to
the moment it reads: nothing visible is deferred. The first run, or `full_refresh`, reads
everything. A manual run with `from_date` and `to_date` brings every deal *created* in that range
(São Paulo dates, both inclusive) to its current state. An Airflow backfill re-syncs the deals
created in its runs' data intervals as one range: the first of its runs to plan re-syncs the range
of the consecutive runs queued or running beside it, and those end in `plan_run` (so a year's
backfill costs about what the Trigger form's date range for that year does). Backfill runs may
overlap each other and scheduled runs.

**Params.** `from_date`, `to_date` (dates), `full_refresh`, `confirm_mass_deletion` (booleans).

**Connections.** `ploomes_default` (host: API base URL; password: the User-Key; extras:
`requests_per_minute`, `page_size`, `max_in_flight`, ...), `sales_db` (the target PostgreSQL;
extras such as `{"sslmode": "require", "prepare_threshold": null}` for Supabase's pooler),
`smtp_default` (alerts).

**Budget.** Every request, from any task on any worker, waits for the account's budget kept in
the warehouse (`requests_per_minute`, 120 by default). Pool `ploomes_api` bounds how many tasks
call the API at once.

**Assets.** The loads, `reconcile_deletions` and `aggregate_customer_sales` update the Asset
`ploomes_sync.public.<table>` of each table they write: ASSETS. Schedule a dashboard's DAG on them.

**Health.** The *Sync health* tab (and Browse › Ploomes sync health) shows freshness, the last
runs, the per-year table, rejects, deletions and the webhook inbox; `/ploomes-sync/metrics` is the
same for Prometheus. `ploomes_sync_watchdog` e-mails once per breach when no run has succeeded for
8 hours. Webhooks (`ploomes_webhook_setup`, `ploomes_webhook_apply`) bring changes in between runs.

**Alerts.** A task that fails for good e-mails the recipients in Variable
`ploomes_sync_alert_emails`. A 403 means the User-Key was rejected: renew it in Ploomes
(Administração › Integrações › Usuários de integração) and put it in the connection's password.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pendulum
from airflow.sdk import CronDataIntervalTimetable, Param, dag, task, teardown

from ploomes_sync.alerts import FailureEmail, record_failure
from ploomes_sync.assets import CUSTOMER_SALES, asset_of, assets_of
from ploomes_sync.connections import budgeted_hook
from ploomes_sync.connections import connect_warehouse as _connect
from ploomes_sync.settings import API_POOL, BUSINESS_TIMEZONE, DAG_ID, TASK_TIMEOUTS
from ploomes_sync.streams import Registry, Stream, registry

default_args = {
    "owner": "data",
    "retries": 3,
    "retry_delay": timedelta(minutes=1),
    "retry_exponential_backoff": True,
    "max_retry_delay": timedelta(minutes=15),
    "execution_timeout": TASK_TIMEOUTS["default"],
    "on_failure_callback": [record_failure, FailureEmail()],
}

params = {
    "from_date": Param(None, type=["null", "string"], format="date", title="From date",
                       description="First São Paulo date of a date-range run (deals created on or after it). "
                       "Leave empty for a normal run."),
    "to_date": Param(None, type=["null", "string"], format="date", title="To date",
                     description="Last São Paulo date of a date-range run (inclusive)."),
    "full_refresh": Param(False, type="boolean", title="Full refresh",
                          description="Ignore the watermarks and read every deal and contact "
                          "(or every deal of the range)."),
    "confirm_mass_deletion": Param(False, type="boolean", title="Confirm a mass deletion",
                                   description="Let the reconcile remove more rows than the guard allows "
                                   "(after checking in Ploomes that they really were deleted)."),
}


def _plan(data: dict[str, Any]):
    from ploomes_sync.plan import RunPlan

    return RunPlan.from_xcom(data)


def _stream_tasks(stream: Stream) -> tuple[Any, Any]:
    """The extract and the load of one stream of the registry (``extract_deals``, ``load_sales``, ...)."""
    name = stream.name
    outlets = [*map(asset_of, stream.tables), *([CUSTOMER_SALES] if stream.customer_key else [])]

    @task(task_id=f"extract_{name}", pool=API_POOL, execution_timeout=TASK_TIMEOUTS["extract"])
    def extract(plan: dict) -> dict:
        from ploomes_sync import tasks
        from ploomes_sync.config import load_config

        config, hook = load_config(), budgeted_hook()
        with _connect() as conn, _connect() as reject_conn:
            own = registry(config.quote_entity_id)[name]
            return tasks.extract(own, _plan(plan), hook=hook, conn=conn, reject_conn=reject_conn, config=config)

    @task(task_id=f"load_{stream.target}", outlets=outlets, execution_timeout=TASK_TIMEOUTS["load"])
    def load(plan: dict) -> dict:
        from ploomes_sync import tasks

        with _connect() as conn:  # a stream's tables and columns do not depend on the configuration
            return tasks.load(registry()[name], _plan(plan), conn=conn)

    return extract, load


def build(streams: Registry) -> Any:
    """The DAG for ``streams`` (this file builds it for the registry; ``ploomes_devkit.pipeline`` builds
    it for a copy, to run a run's tasks in the DAG's order outside Airflow)."""

    @dag(
        dag_id=DAG_ID,
        schedule=CronDataIntervalTimetable("0 */6 * * *", timezone=BUSINESS_TIMEZONE),
        start_date=pendulum.datetime(2026, 1, 1, tz=BUSINESS_TIMEZONE),
        catchup=False,
        max_active_runs=1,
        dagrun_timeout=TASK_TIMEOUTS["run"],
        default_args=default_args,
        params=params,
        tags=["ploomes", "sales", "warehouse"],
        doc_md=(__doc__ or "").replace("ASSETS", ", ".join(f"`{asset.name}`" for asset in assets_of(streams))),
    )
    def ploomes_sales_sync():
        @task(execution_timeout=TASK_TIMEOUTS["plan_run"])
        def plan_run(*, dag_run=None, ti=None, task=None, params=None, data_interval_start=None,
                     data_interval_end=None) -> dict:
            from airflow.sdk.exceptions import DownstreamTasksSkipped

            from ploomes_sync import tasks
            from ploomes_sync.config import load_config

            def active_runs(logical_dates) -> int:  # the backfill's runs beside this one
                return ti.get_dr_count(dag_id=DAG_ID, logical_dates=list(logical_dates), states=["queued", "running"])

            with _connect() as conn:
                tasks.migrate_schema(conn)
                plan = tasks.plan_run(
                    conn, dag_id=DAG_ID, run_id=dag_run.run_id,
                    run_type=str(getattr(dag_run.run_type, "value", dag_run.run_type)),
                    params=dict(params), data_interval=(data_interval_start, data_interval_end), config=load_config(),
                    active_runs=active_runs,
                )
            if plan.covered_by is not None:  # the whole run is done by another run of its backfill
                raise DownstreamTasksSkipped(tasks=sorted(task.get_flat_relative_ids(upstream=False)))
            return plan.to_xcom()

        @task(pool=API_POOL, execution_timeout=TASK_TIMEOUTS["check_ploomes_key"])
        def check_ploomes_key() -> None:
            from ploomes_sync import tasks

            tasks.check_ploomes_key(budgeted_hook())

        @task(pool=API_POOL, execution_timeout=TASK_TIMEOUTS["list_deletions"])
        def list_deletions(plan: dict) -> dict:
            from ploomes_sync import tasks
            from ploomes_sync.config import load_config

            hook = budgeted_hook()
            with _connect() as conn, _connect() as reject_conn:
                return tasks.list_deletions(_plan(plan), hook=hook, conn=conn, reject_conn=reject_conn,
                                            config=load_config())

        @task(trigger_rule="none_failed", outlets=[asset_of(t) for s in streams for t in s.tables] + [CUSTOMER_SALES],
              pool=API_POOL, execution_timeout=TASK_TIMEOUTS["reconcile_deletions"])
        def reconcile_deletions(plan: dict) -> dict:
            from ploomes_sync import tasks
            from ploomes_sync.config import load_config

            hook = budgeted_hook()
            with _connect() as conn, _connect() as reject_conn:
                return tasks.reconcile_deletions(_plan(plan), hook=hook, conn=conn, reject_conn=reject_conn,
                                                 config=load_config())

        @task(trigger_rule="none_failed", outlets=[CUSTOMER_SALES], execution_timeout=TASK_TIMEOUTS["aggregate"])
        def aggregate_customer_sales(plan: dict) -> dict:
            from ploomes_sync import tasks

            with _connect() as conn:
                return tasks.aggregate_customer_sales(_plan(plan), conn=conn)

        @task(trigger_rule="none_failed", execution_timeout=TASK_TIMEOUTS["validate_by_year"])
        def validate_by_year(plan: dict) -> dict:
            from ploomes_sync import tasks

            with _connect() as conn:
                return tasks.validate_by_year(_plan(plan), conn=conn)

        @teardown
        @task(execution_timeout=TASK_TIMEOUTS["finish_run"])
        def finish_run(*, ti=None, dag_run=None) -> str:
            from ploomes_sync import tasks

            plan = ti.xcom_pull(task_ids="plan_run")
            if plan is None:
                return "no plan: plan_run did not succeed (its failure e-mail says why)"
            states = ti.get_task_states(dag_id=DAG_ID, run_ids=[dag_run.run_id]).get(dag_run.run_id, {})
            failed = [task_id for task_id, state in states.items()
                      if task_id != "finish_run" and state not in ("success", "skipped")]
            with _connect() as conn:
                return tasks.finish_run(conn, _plan(plan), failed_tasks=failed)

        plan = plan_run()
        key_checked = check_ploomes_key()
        plan >> key_checked
        loads = []
        for stream in streams:  # every stream: extract_<name> → load_<table>, side by side
            extract, load = _stream_tasks(stream)
            loaded = load(plan)
            key_checked >> extract(plan) >> loaded
            loads.append(loaded)
        listed = list_deletions(plan)
        loads >> listed
        aggregated = aggregate_customer_sales(plan)
        listed >> reconcile_deletions(plan) >> aggregated
        aggregated >> validate_by_year(plan) >> finish_run()

    return ploomes_sales_sync()


build(registry())

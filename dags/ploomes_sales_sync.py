"""
# Ploomes → warehouse sales sync

Keeps `public.sales`, `public.customers` and `public.customer_sales` in the warehouse (connection
`sales_db`) equal to the deals and contacts in Ploomes (connection `ploomes_default`), every 6 hours.

Tasks:

- `migrate_schema`: applies pending SQL migrations (`include/sql/migrations`).
- `plan_run`: decides the run's mode and windows; opens its row in `ploomes_sync.run_history`.
- `check_ploomes_key`: one cheap request; a refused User-Key fails here, once, with no retry.
- `extract_deals`, `extract_contacts`: page through Ploomes (keyset paging) into staging tables
  under `ploomes_sync`; bad records go to `ploomes_sync.rejects`.
- `load_sales`, `load_customers`: merge staging into `public` in one short transaction each;
  watermarks move with the load.
- `aggregate_customer_sales`: recomputes `public.customer_sales`.
- `validate_by_year`: lists Ploomes' deals lightly, archives deals deleted in Ploomes, compares
  deals and won revenue per São Paulo year; fails on any difference.

**Modes.** A scheduled run reads what changed since the last watermark (less a lookback); the
first run, or `full_refresh`, reads everything. A manual run with `from_date` and `to_date` brings
every deal *created* in that range (São Paulo dates, both inclusive) to its current state. An
Airflow backfill (`airflow backfill create`, the UI or the REST API) re-syncs the deals created in
each run's data interval; backfill runs may overlap each other and scheduled runs.

**Params.** `from_date`, `to_date` (dates), `full_refresh` (boolean).

**Connections.** `ploomes_default` (host: API base URL; password: the User-Key; extras:
`requests_per_minute`, `page_size`), `sales_db` (the target PostgreSQL; extras such as
`{"sslmode": "require", "prepare_threshold": null}` for Supabase), `smtp_default` (alerts).

**Pool.** Every task that calls Ploomes runs in pool `ploomes_api` (1 slot), which holds the
account-wide limit of 120 requests a minute across runs.

**Alerts.** A task that fails for good e-mails the recipients in Variable
`ploomes_sync_alert_emails`. A 403 means the User-Key was rejected: renew it in Ploomes
(Administração › Integrações › Usuários de integração) and put it in the connection's password.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import CronDataIntervalTimetable, Param, dag, get_current_context, task

from ploomes_sync.alerts import FailureEmail, record_failure
from ploomes_sync.settings import API_POOL, BUSINESS_TIMEZONE, SALES_DB_CONN_ID

DAG_ID = "ploomes_sales_sync"

default_args = {
    "owner": "data",
    "retries": 3,
    "retry_delay": timedelta(minutes=1),
    "retry_exponential_backoff": True,
    "max_retry_delay": timedelta(minutes=15),
    "on_failure_callback": [record_failure, FailureEmail()],
}

params = {
    "from_date": Param(
        None,
        type=["null", "string"],
        format="date",
        title="From date",
        description="First São Paulo date of a date-range run (deals created on or after it). "
        "Leave empty for a normal run.",
    ),
    "to_date": Param(
        None,
        type=["null", "string"],
        format="date",
        title="To date",
        description="Last São Paulo date of a date-range run (inclusive).",
    ),
    "full_refresh": Param(
        False,
        type="boolean",
        title="Full refresh",
        description="Ignore the watermarks and read every deal and contact (or every deal of the range).",
    ),
}


def _warehouse():
    from airflow.providers.postgres.hooks.postgres import PostgresHook

    return PostgresHook(postgres_conn_id=SALES_DB_CONN_ID).get_conn()


def _plan(data: dict):
    from ploomes_sync.plan import RunPlan

    return RunPlan.from_xcom(data)


@dag(
    dag_id=DAG_ID,
    schedule=CronDataIntervalTimetable("0 */6 * * *", timezone=BUSINESS_TIMEZONE),
    start_date=pendulum.datetime(2026, 1, 1, tz=BUSINESS_TIMEZONE),
    catchup=False,
    max_active_runs=1,
    default_args=default_args,
    params=params,
    tags=["ploomes", "sales", "warehouse"],
    doc_md=__doc__,
)
def ploomes_sales_sync():
    @task
    def migrate_schema() -> list[str]:
        from ploomes_sync import tasks

        with _warehouse() as conn:
            return tasks.migrate_schema(conn)

    @task
    def plan_run() -> dict:
        from ploomes_sync import tasks
        from ploomes_sync.config import load_config

        context = get_current_context()
        dag_run = context["dag_run"]
        with _warehouse() as conn:
            plan = tasks.plan_run(
                conn,
                dag_id=DAG_ID,
                run_key=dag_run.run_id,
                run_type=str(getattr(dag_run.run_type, "value", dag_run.run_type)),
                run_started_at=pendulum.now("UTC"),  # the run's upper bound, fixed here
                params=dict(context["params"]),
                data_interval=(context.get("data_interval_start"), context.get("data_interval_end")),
                config=load_config(),
            )
        return plan.to_xcom()

    @task(pool=API_POOL)
    def check_ploomes_key() -> None:
        from ploomes_sync import tasks
        from ploomes_sync.hooks.ploomes import PloomesHook

        tasks.check_api_key(PloomesHook())

    def _extract(name: str, plan: dict) -> dict:
        from ploomes_sync import tasks
        from ploomes_sync.config import load_config
        from ploomes_sync.hooks.ploomes import PloomesHook

        with _warehouse() as conn, _warehouse() as reject_conn:
            return getattr(tasks, name)(_plan(plan), hook=PloomesHook(), conn=conn, reject_conn=reject_conn,
                                        config=load_config())

    @task(pool=API_POOL)
    def extract_deals(plan: dict) -> dict:
        return _extract("extract_deals", plan)

    @task(pool=API_POOL)
    def extract_contacts(plan: dict) -> dict:
        return _extract("extract_contacts", plan)

    @task
    def load_sales(plan: dict, extracted: dict) -> dict:
        from ploomes_sync import tasks

        with _warehouse() as conn:
            return tasks.load_sales(_plan(plan), conn=conn)

    @task
    def load_customers(plan: dict, extracted: dict) -> dict:
        from ploomes_sync import tasks

        with _warehouse() as conn:
            return tasks.load_customers(_plan(plan), conn=conn)

    @task
    def aggregate_customer_sales(plan: dict) -> dict:
        from ploomes_sync import tasks

        with _warehouse() as conn:
            return tasks.aggregate_customer_sales(_plan(plan), conn=conn)

    @task(pool=API_POOL)
    def validate_by_year(plan: dict) -> list[dict]:
        from ploomes_sync import tasks
        from ploomes_sync.config import load_config
        from ploomes_sync.hooks.ploomes import PloomesHook

        with _warehouse() as conn, _warehouse() as reject_conn:
            table = tasks.validate_by_year(_plan(plan), hook=PloomesHook(), conn=conn, reject_conn=reject_conn,
                                           config=load_config())
        return [] if table is None else table.to_json()

    plan = plan_run()
    migrate_schema() >> plan
    key_checked = check_ploomes_key()
    deals, contacts = extract_deals(plan), extract_contacts(plan)
    plan >> key_checked >> [deals, contacts]  # after plan_run opened the run's history row
    sales = load_sales(plan, deals)
    customers = load_customers(plan, contacts)
    aggregated = aggregate_customer_sales(plan)
    [sales, customers] >> aggregated
    aggregated >> validate_by_year(plan)


ploomes_sales_sync()

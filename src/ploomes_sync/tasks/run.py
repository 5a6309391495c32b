"""The tasks that open and close a run: migrations, the plan, the key check, the final record."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

import psycopg

from ploomes_sync import warehouse
from ploomes_sync.config import SyncConfig
from ploomes_sync.hooks.ploomes import LimiterFactory, PloomesHook
from ploomes_sync.plan import RunPlan, make_plan
from ploomes_sync.streams import Registry, registry
from ploomes_sync.warehouse import backfill
from ploomes_sync.warehouse.budget import WarehouseBudget
from ploomes_sync.warehouse.listing import confirm_id

log = logging.getLogger(__name__)

def migrate_schema(conn: psycopg.Connection, streams: Registry | None = None) -> list[str]:
    """Apply pending migrations and make the streams' own tables (of ``streams``, every stream by
    default); return the migrations applied."""
    applied = warehouse.migrate(conn, streams=streams)
    log.info("Migrations applied: %s", applied or "none pending")
    return applied


def account_budget(connect: Callable[[], psycopg.Connection]) -> LimiterFactory:
    """The limiter of a hook built with ``PloomesHook(limiter=account_budget(connect))``: the account's
    budget kept in the warehouse, shared by every process (at the connection's requests_per_minute)."""
    return lambda account, requests_per_minute: WarehouseBudget(connect, account, requests_per_minute)


def check_ploomes_key(hook: PloomesHook) -> None:
    """One cheap request that fails with :class:`PloomesAuthError` (no retry) when the key is refused.

    The DAG runs it once, before the extracts, so a bad key fails one task and sends one e-mail.
    """
    hook.check_key()


def plan_run(
    conn: psycopg.Connection,
    *,
    dag_id: str,
    run_id: str,
    run_type: str,
    params: Mapping[str, Any],
    data_interval: tuple[datetime | None, datetime | None],
    config: SyncConfig,
    streams: Registry | None = None,
    active_runs: backfill.ActiveRuns | None = None,
) -> RunPlan:
    """Decide each stream's window and listing (``streams``: the registry) and open the run's row
    in the run history.

    ``active_runs`` (the DAG passes Airflow's count of queued and running runs by logical date) lets
    a backfill run share the backfill's re-sync: it re-syncs the range of the backfill's runs, or,
    when another run does, returns a plan ``covered_by`` that run, reads nothing and records no row.
    """
    streams = streams or registry(config.quote_entity_id)
    every = streams
    streams = Registry(tuple(stream for stream in every if config.syncs(stream.name)))  # the account's modules
    start, end = data_interval
    if run_type == "backfill" and active_runs is not None and start and end \
            and not (params.get("from_date") or params.get("to_date")):
        part = backfill.share(conn, run_id, (start, end), active_runs)
        if part.covered_by is not None:
            return RunPlan(run_id=run_id, run_type=run_type, mode="range", planned_at=warehouse.warehouse_now(conn),
                           streams={}, created_from=part.start, created_to=part.end, covered_by=part.covered_by)
        data_interval = (part.start, part.end)
    watermarks = warehouse.get_watermarks(conn)
    plan = make_plan(
        run_id=run_id,
        run_type=run_type,
        planned_at=warehouse.warehouse_now(conn),
        params=dict(params),
        data_interval=data_interval,
        streams=streams,
        watermarks=watermarks,
        lookback=config.lookback,
        last_listing={name: warehouse.last_listing(conn, name, ("full", "count", "extract"))
                      for name in streams.names},
        last_full_listing={name: warehouse.last_listing(conn, name, ("full", "extract")) for name in streams.names},
        listing_every_hours=config.listing_every_hours,
        full_listing_every_hours=config.full_listing_every_hours,
    )
    warehouse.start_run(
        conn, run_id, dag_id=dag_id, run_type=run_type, mode=plan.mode,
        window_start=plan.window_start, window_end=plan.created_to, watermarks_before=watermarks,
    )
    warehouse.purge_stale_stage(conn, tuple(every), older_than=config.stale_stage_days)
    log.info("Run %s: mode %s; listings %s; plan %s", run_id, plan.mode,
             ", ".join(f"{name} {own.listing}" for name, own in plan.streams.items()), plan.to_xcom())
    return plan


def finish_run(conn: psycopg.Connection, plan: RunPlan, *, failed_tasks: list[str],
               streams: Registry | None = None) -> str:
    """Record the run's outcome, whatever happened (the DAG's teardown); drop its staging if it succeeded.

    ``failed_tasks``: the run's tasks that did not succeed (failed, upstream failed). A failed run
    keeps its staging (until ``stale_stage_days``), so that a task cleared later finds what its
    upstream tasks staged. Returns the status recorded.
    """
    status = "failed" if failed_tasks else "success"
    error = None
    if failed_tasks:
        recorded = warehouse.get_run(conn, plan.run_id).get("error")
        # the failure callback recorded what went wrong: keep it, and add the tasks concerned
        summary = f"tasks not successful: {', '.join(sorted(failed_tasks))}"
        error = summary if not recorded else recorded if summary in recorded else f"{recorded}\n({summary})"
    warehouse.finish_run(conn, plan.run_id, status=status, error=error,
                         watermarks_after=warehouse.get_watermarks(conn))
    if not failed_tasks:
        for stage_id in (plan.run_id, confirm_id(plan.run_id)):
            warehouse.drop_stage(conn, stage_id, tuple(streams or registry()))
    return status

"""Run the DAG's tasks in-process, in the DAG's order, outside Airflow's scheduler.

The benchmark and the fault-injection tests use this to drive the very functions the DAG's tasks
call (``ploomes_sync.tasks``), with the plan handed from task to task through its XCom form, and
each task on connections of its own, as on separate workers.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import psycopg

from ploomes_sync import tasks
from ploomes_sync.config import SyncConfig
from ploomes_sync.hooks.ploomes import PloomesHook
from ploomes_sync.plan import RunPlan

DAG_ID = "ploomes_sales_sync"
TASK_ORDER = (
    "migrate_schema", "plan_run", "check_ploomes_key", "extract_deals", "load_sales", "extract_contacts",
    "load_customers", "aggregate_customer_sales", "validate_by_year",
)


@dataclass
class PipelineRun:
    """What one in-process run did: each task's result and seconds, and the API requests spent."""

    run_key: str
    plan: dict[str, Any] | None = None
    results: dict[str, Any] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    api_requests: int = 0
    api_throttled: int = 0

    @property
    def total_seconds(self) -> float:
        return sum(self.seconds.values())


class Pipeline:
    """The DAG's task sequence against one warehouse and one Ploomes endpoint.

    ``hook_factory`` builds a fresh :class:`PloomesHook` per API task, as a worker would;
    ``before`` is called with a task's name just before it runs (tests inject faults there).
    """

    def __init__(
        self,
        db_url: str,
        *,
        hook_factory: Callable[[], PloomesHook] = PloomesHook,
        config: SyncConfig | None = None,
        before: Callable[[str], None] | None = None,
    ) -> None:
        self.db_url = db_url
        self.hook_factory = hook_factory
        self.config = config or SyncConfig()
        self.before = before
        self._counter = 0

    @contextmanager
    def connect(self) -> Iterator[psycopg.Connection]:
        with psycopg.connect(self.db_url) as conn:
            yield conn

    def run(
        self,
        *,
        run_key: str | None = None,
        run_type: str = "manual",
        params: dict[str, Any] | None = None,
        data_interval: tuple[datetime | None, datetime | None] = (None, None),
        run_started_at: datetime | None = None,
    ) -> PipelineRun:
        """One whole run; raises what the failing task raised (the run stays as the DAG would leave it)."""
        self._counter += 1
        run = PipelineRun(run_key or f"pipeline__{datetime.now(UTC):%Y%m%dT%H%M%S.%f}_{self._counter}")
        self._step(run, "migrate_schema", lambda: self._with_conn(tasks.migrate_schema))
        # As in the DAG, the run's upper bound is taken when plan_run runs, after the migrations.
        plan_dict = self._step(run, "plan_run", lambda: self._plan(
            run.run_key, run_type, run_started_at or datetime.now(UTC), params or {}, data_interval))
        run.plan = plan_dict
        self._step(run, "check_ploomes_key", lambda: self._check_key(run))
        for extract, load in (("extract_deals", "load_sales"), ("extract_contacts", "load_customers")):
            self._step(run, extract, lambda name=extract: self._api_task(run, name, plan_dict))
            self._step(run, load, lambda name=load: self._db_task(name, plan_dict))
        self._step(run, "aggregate_customer_sales", lambda: self._db_task("aggregate_customer_sales", plan_dict))
        self._step(run, "validate_by_year", lambda: self._api_task(run, "validate_by_year", plan_dict))
        return run

    def _step(self, run: PipelineRun, name: str, body: Callable[[], Any]) -> Any:
        if self.before is not None:
            self.before(name)
        began = time.perf_counter()
        try:
            result = body()
        finally:
            run.seconds[name] = time.perf_counter() - began
        run.results[name] = result
        return result

    def _with_conn(self, function: Callable[[psycopg.Connection], Any]) -> Any:
        with self.connect() as conn:
            return function(conn)

    def _plan(self, run_key: str, run_type: str, started: datetime, params: dict[str, Any],
              data_interval: tuple[datetime | None, datetime | None]) -> dict[str, Any]:
        with self.connect() as conn:
            plan = tasks.plan_run(conn, dag_id=DAG_ID, run_key=run_key, run_type=run_type,
                                  run_started_at=started, params=params, data_interval=data_interval,
                                  config=self.config)
        return plan.to_xcom()

    @contextmanager
    def _hook(self, run: PipelineRun) -> Iterator[PloomesHook]:
        """A fresh hook for one API task; its requests count towards the run's, even when it fails."""
        hook = self.hook_factory()
        try:
            yield hook
        finally:
            run.api_requests += hook.stats.requests
            run.api_throttled += hook.stats.throttled

    def _check_key(self, run: PipelineRun) -> None:
        with self._hook(run) as hook:
            tasks.check_api_key(hook)

    def _db_task(self, name: str, plan: dict[str, Any]) -> Any:
        with self.connect() as conn:
            return getattr(tasks, name)(RunPlan.from_xcom(plan), conn=conn)

    def _api_task(self, run: PipelineRun, name: str, plan: dict[str, Any]) -> Any:
        with self._hook(run) as hook, self.connect() as conn, self.connect() as reject_conn:
            return getattr(tasks, name)(RunPlan.from_xcom(plan), hook=hook, conn=conn, reject_conn=reject_conn,
                                        config=self.config)

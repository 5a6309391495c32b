"""Run the DAG's tasks in-process, in the DAG's order, outside Airflow's scheduler.

The benchmark and the fault-injection tests use this to drive the very functions the DAG's tasks
call (``ploomes_sync.tasks``), with the plan handed from task to task through its XCom form, and
each task on connections of its own, as on separate workers. The two extracts run side by side
(as the DAG's do when the ``ploomes_api`` pool has room), every API task waits for the account's
budget kept in the warehouse, and ``finish_run`` runs whatever happened, as the DAG's teardown does.
"""

from __future__ import annotations

import threading
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
    "migrate_schema", "plan_run", "check_ploomes_key", "extract_deals", "extract_contacts", "load_sales",
    "load_customers", "list_deletions", "reconcile_deletions", "aggregate_customer_sales", "validate_by_year",
    "finish_run",
)
API_TASKS = ("check_ploomes_key", "extract_deals", "extract_contacts", "list_deletions")


@dataclass
class PipelineRun:
    """What one in-process run did: each task's result and seconds, and the API requests spent."""

    run_id: str
    plan: dict[str, Any] | None = None
    results: dict[str, Any] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    api_requests: int = 0
    api_throttled: int = 0
    status: str | None = None  # what finish_run recorded

    @property
    def total_seconds(self) -> float:
        return sum(self.seconds.values())


class Pipeline:
    """The DAG's task sequence against one warehouse and one Ploomes endpoint.

    ``hook_factory`` builds a fresh :class:`PloomesHook` per API task, as a worker would;
    ``before`` is called with a task's name just before it runs (tests inject faults there).
    ``parallel_extracts`` runs the two extracts side by side, as the DAG does. ``connect`` opens
    the warehouse connections (default: ``psycopg.connect(db_url)``), e.g. as the DAG does, through
    ``PostgresHook`` and connection ``sales_db``.
    """

    def __init__(
        self,
        db_url: str,
        *,
        hook_factory: Callable[[], PloomesHook] = PloomesHook,
        config: SyncConfig | None = None,
        before: Callable[[str], None] | None = None,
        parallel_extracts: bool = True,
        shared_budget: bool = True,
        connect: Callable[[], psycopg.Connection] | None = None,
    ) -> None:
        self.db_url = db_url
        self._connect = connect or (lambda: psycopg.connect(db_url))  # e.g. PostgresHook(...).get_conn
        self.hook_factory = hook_factory
        self.config = config or SyncConfig()
        self.before = before
        self.parallel_extracts = parallel_extracts
        self.shared_budget = shared_budget
        self._counter = 0
        self._lock = threading.Lock()
        self.last_run: PipelineRun | None = None  # also when run() raised

    @contextmanager
    def connect(self) -> Iterator[psycopg.Connection]:
        with self._connect() as conn:
            yield conn

    def run(
        self,
        *,
        run_id: str | None = None,
        run_type: str = "manual",
        params: dict[str, Any] | None = None,
        data_interval: tuple[datetime | None, datetime | None] = (None, None),
    ) -> PipelineRun:
        """One whole run; raises what the first failing task raised (after ``finish_run``, as the DAG)."""
        self._counter += 1
        run = self.last_run = PipelineRun(run_id or f"pipeline__{datetime.now(UTC):%Y%m%dT%H%M%S.%f}_{self._counter}")
        try:
            self._step(run, "migrate_schema", lambda: self._with_conn(tasks.migrate_schema))
            plan = self._step(run, "plan_run", lambda: self._plan(run.run_id, run_type, params or {}, data_interval))
            run.plan = plan
            self._step(run, "check_ploomes_key", lambda: self._check_key(run))
            self._extracts(run, plan)
            self._step(run, "load_sales", lambda: self._db_task("load_sales", plan))
            self._step(run, "load_customers", lambda: self._db_task("load_customers", plan))
            if tasks.needs_listing(RunPlan.from_xcom(plan)):
                self._step(run, "list_deletions", lambda: self._api_task(run, "list_deletions", plan))
            else:
                run.skipped.append("list_deletions")
            if tasks.has_listing(RunPlan.from_xcom(plan)):
                self._step(run, "reconcile_deletions", lambda: self._reconcile(plan))
            else:
                run.skipped.append("reconcile_deletions")
            self._step(run, "aggregate_customer_sales", lambda: self._db_task("aggregate_customer_sales", plan))
            self._step(run, "validate_by_year", lambda: self._db_task("validate_by_year", plan))
        finally:
            if run.plan is not None:
                self._finish(run)
        return run

    def _extracts(self, run: PipelineRun, plan: dict[str, Any]) -> None:
        names = ("extract_deals", "extract_contacts")
        if not self.parallel_extracts:
            for name in names:
                self._step(run, name, lambda name=name: self._api_task(run, name, plan))
            return
        errors: dict[str, BaseException] = {}

        def one(name: str) -> None:
            try:
                self._step(run, name, lambda: self._api_task(run, name, plan))
            except BaseException as exc:  # noqa: BLE001 (re-raised below, in the caller's thread)
                errors[name] = exc

        threads = [threading.Thread(target=one, args=(name,), name=name) for name in names]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        for name in names:
            if name in errors:
                raise errors[name]

    def _finish(self, run: PipelineRun) -> None:
        with self.connect() as conn:
            run.status = tasks.finish_run(conn, RunPlan.from_xcom(run.plan), failed_tasks=run.failed)
        run.results["finish_run"] = run.status

    def _step(self, run: PipelineRun, name: str, body: Callable[[], Any]) -> Any:
        began = time.perf_counter()
        try:
            if self.before is not None:
                self.before(name)  # a fault injected here is the task's failure
            result = body()
        except BaseException:
            with self._lock:
                run.failed.append(name)
            raise
        finally:
            run.seconds[name] = time.perf_counter() - began
        run.results[name] = result
        return result

    def _with_conn(self, function: Callable[[psycopg.Connection], Any]) -> Any:
        with self.connect() as conn:
            return function(conn)

    def _plan(self, run_id: str, run_type: str, params: dict[str, Any],
              data_interval: tuple[datetime | None, datetime | None]) -> dict[str, Any]:
        with self.connect() as conn:
            plan = tasks.plan_run(conn, dag_id=DAG_ID, run_id=run_id, run_type=run_type, params=params,
                                  data_interval=data_interval, config=self.config)
        return plan.to_xcom()

    @contextmanager
    def _hook(self, run: PipelineRun) -> Iterator[PloomesHook]:
        """A fresh hook for one API task; its requests count towards the run's, even when it fails."""
        hook = self.hook_factory()
        if self.shared_budget:
            tasks.use_account_budget(hook, self._connect)
        try:
            yield hook
        finally:
            with self._lock:
                run.api_requests += hook.stats.requests
                run.api_throttled += hook.stats.throttled
            limiter = getattr(hook, "_limiter", None)
            close = getattr(getattr(limiter, "limiter", limiter), "close", None)
            if close is not None:
                close()

    def _check_key(self, run: PipelineRun) -> None:
        with self._hook(run) as hook:
            tasks.check_api_key(hook)

    def _db_task(self, name: str, plan: dict[str, Any]) -> Any:
        with self.connect() as conn:
            return getattr(tasks, name)(RunPlan.from_xcom(plan), conn=conn)

    def _reconcile(self, plan: dict[str, Any]) -> Any:
        with self.connect() as conn:
            return tasks.reconcile_deletions(RunPlan.from_xcom(plan), conn=conn, config=self.config)

    def _api_task(self, run: PipelineRun, name: str, plan: dict[str, Any]) -> Any:
        with self._hook(run) as hook, self.connect() as conn, self.connect() as reject_conn:
            return getattr(tasks, name)(RunPlan.from_xcom(plan), hook=hook, conn=conn, reject_conn=reject_conn,
                                        config=self.config)

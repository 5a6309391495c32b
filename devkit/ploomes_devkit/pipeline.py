"""Run the DAG's tasks in-process, in the DAG's order, outside Airflow's scheduler.

The benchmark and the fault-injection tests use this to drive the very functions the DAG's tasks
call (``ploomes_sync.tasks``), with the plan handed from task to task through its XCom form, and
each task on connections of its own, as on separate workers. Every stream of the registry has its
``extract_<name>`` and ``load_<table>``; the extracts run side by side (as the DAG's do when the
``ploomes_api`` pool has room), every API task waits for the account's budget kept in the
warehouse, and ``finish_run`` runs whatever happened, as the DAG's teardown does.
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
from ploomes_sync.settings import DAG_ID
from ploomes_sync.streams import Registry, Stream, registry


def task_order(streams: Registry | None = None) -> tuple[str, ...]:
    """The task ids of a run, in the order they run (the DAG's: every extract, then every load)."""
    streams = streams or registry()
    return ("migrate_schema", "plan_run", "check_ploomes_key", *(f"extract_{s.name}" for s in streams),
            *(f"load_{s.target}" for s in streams), "list_deletions", "reconcile_deletions",
            "aggregate_customer_sales", "validate_by_year", "finish_run")


TASK_ORDER = task_order()


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

    ``hook_factory`` builds a fresh :class:`PloomesHook` per API task, as a worker would (given
    ``limiter=``, the account's budget in the warehouse, unless ``shared_budget`` is false);
    ``before`` is called with a task's name just before it runs (tests inject faults there).
    ``parallel_extracts`` runs the two extracts side by side, as the DAG does. ``connect`` opens
    the warehouse connections (default: ``psycopg.connect(db_url)``), e.g. as the DAG does, from
    connection ``sales_db``.
    """

    def __init__(
        self,
        db_url: str,
        *,
        hook_factory: Callable[..., PloomesHook] = PloomesHook,
        config: SyncConfig | None = None,
        before: Callable[[str], None] | None = None,
        parallel_extracts: bool = True,
        shared_budget: bool = True,
        connect: Callable[[], psycopg.Connection] | None = None,
        streams: Registry | None = None,
    ) -> None:
        self.db_url = db_url
        self._connect = connect or (lambda: psycopg.connect(db_url))  # e.g. PostgresHook(...).get_conn
        self.hook_factory = hook_factory
        self.config = config or SyncConfig()
        self.before = before
        self.parallel_extracts = parallel_extracts
        self.shared_budget = shared_budget
        self.streams = streams or registry(self.config.client_tag_id)
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
            for stream in self.streams:
                self._step(run, f"load_{stream.target}", lambda stream=stream: self._load(stream, plan))
            if tasks.needs_listing(RunPlan.from_xcom(plan)):
                self._step(run, "list_deletions", lambda: self._list(run, plan))
            else:
                run.skipped.append("list_deletions")
            if tasks.has_listing(RunPlan.from_xcom(plan)):
                self._step(run, "reconcile_deletions", lambda: self._reconcile(plan))
            else:
                run.skipped.append("reconcile_deletions")
            self._step(run, "aggregate_customer_sales", lambda: self._aggregate(plan))
            self._step(run, "validate_by_year", lambda: self._check(plan))
        finally:
            if run.plan is not None:
                self._finish(run)
        return run

    def _extracts(self, run: PipelineRun, plan: dict[str, Any]) -> None:
        if not self.parallel_extracts:
            for stream in self.streams:
                self._step(run, f"extract_{stream.name}", lambda stream=stream: self._extract(run, stream, plan))
            return
        errors: dict[str, BaseException] = {}

        def one(stream: Stream) -> None:
            try:
                self._step(run, f"extract_{stream.name}", lambda: self._extract(run, stream, plan))
            except BaseException as exc:  # noqa: BLE001 (re-raised below, in the caller's thread)
                errors[stream.name] = exc

        threads = [threading.Thread(target=one, args=(stream,), name=f"extract_{stream.name}")
                   for stream in self.streams]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        for stream in self.streams:
            if stream.name in errors:
                raise errors[stream.name]

    def _finish(self, run: PipelineRun) -> None:
        with self.connect() as conn:
            run.status = tasks.finish_run(conn, RunPlan.from_xcom(run.plan), failed_tasks=run.failed,
                                          streams=self.streams)
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
                                  data_interval=data_interval, config=self.config, streams=self.streams)
        return plan.to_xcom()

    @contextmanager
    def _hook(self, run: PipelineRun) -> Iterator[PloomesHook]:
        """A fresh hook for one API task; its requests count towards the run's, even when it fails."""
        hook = self.hook_factory(limiter=tasks.account_budget(self._connect)) if self.shared_budget \
            else self.hook_factory()
        try:
            yield hook
        finally:
            with self._lock:
                run.api_requests += hook.stats.requests
                run.api_throttled += hook.stats.throttled
            hook.close()

    def _check_key(self, run: PipelineRun) -> None:
        with self._hook(run) as hook:
            tasks.check_ploomes_key(hook)

    def _load(self, stream: Stream, plan: dict[str, Any]) -> Any:
        with self.connect() as conn:
            return tasks.load(stream, RunPlan.from_xcom(plan), conn=conn)

    def _aggregate(self, plan: dict[str, Any]) -> Any:
        with self.connect() as conn:
            return tasks.aggregate_customer_sales(RunPlan.from_xcom(plan), conn=conn)

    def _check(self, plan: dict[str, Any]) -> Any:
        with self.connect() as conn:
            return tasks.validate_by_year(RunPlan.from_xcom(plan), conn=conn, streams=self.streams)

    def _reconcile(self, plan: dict[str, Any]) -> Any:
        with self.connect() as conn:
            return tasks.reconcile_deletions(RunPlan.from_xcom(plan), conn=conn, config=self.config,
                                             streams=self.streams)

    def _extract(self, run: PipelineRun, stream: Stream, plan: dict[str, Any]) -> Any:
        with self._hook(run) as hook, self.connect() as conn, self.connect() as reject_conn:
            return tasks.extract(stream, RunPlan.from_xcom(plan), hook=hook, conn=conn, reject_conn=reject_conn,
                                 config=self.config)

    def _list(self, run: PipelineRun, plan: dict[str, Any]) -> Any:
        with self._hook(run) as hook, self.connect() as conn, self.connect() as reject_conn:
            return tasks.list_deletions(RunPlan.from_xcom(plan), hook=hook, conn=conn, reject_conn=reject_conn,
                                        config=self.config, streams=self.streams)

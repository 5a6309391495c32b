"""Run the DAG's tasks in-process, in the DAG's order, outside Airflow's scheduler.

The benchmark and the fault-injection tests use this to drive the very functions the DAG's tasks
call (``ploomes_sync.tasks``), with the plan handed from task to task through its XCom form, and
each task on connections of its own, as on separate workers. The tasks, their order and their
trigger rules are the DAG's own (``dags/ploomes_sales_sync.py``, built for the pipeline's
registry): the tasks whose upstream tasks are done run side by side (the extracts, as the DAG's do
when the ``ploomes_api`` pool has room), a task that raises ``AirflowSkipException`` is skipped,
every API task waits for the account's budget kept in the warehouse, and the teardown
(``finish_run``) runs whatever happened.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import threading
import time
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import psycopg
from airflow.sdk.exceptions import AirflowSkipException

from ploomes_sync import tasks
from ploomes_sync.config import SyncConfig
from ploomes_sync.hooks.ploomes import PloomesHook
from ploomes_sync.plan import RunPlan
from ploomes_sync.settings import API_POOL, API_POOL_SLOTS, DAG_ID
from ploomes_sync.streams import Registry, Stream, registry
from ploomes_sync.warehouse.backfill import ActiveRuns

DAG_FILE = Path(__file__).resolve().parents[2] / "dags" / "ploomes_sales_sync.py"


@functools.cache
def _dag_file() -> ModuleType:
    spec = importlib.util.spec_from_file_location("ploomes_sales_sync_dag_file", DAG_FILE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def dag_waves(streams: Registry | None = None) -> list[list[Any]]:
    """The DAG's tasks (built for ``streams``) in waves: each task after every task upstream of it."""
    dag = _dag_file().build(streams or registry())
    done: set[str] = set()
    waves = []
    left = dict(dag.task_dict)
    while left:
        wave = [task for task in left.values() if task.upstream_task_ids <= done]
        assert wave, f"the DAG has a cycle among {sorted(left)}"
        waves.append(wave)
        done |= {task.task_id for task in wave}
        for task in wave:
            del left[task.task_id]
    return waves


def task_order(streams: Registry | None = None) -> tuple[str, ...]:
    """The task ids of a run, in the DAG's order."""
    return tuple(task.task_id for wave in dag_waves(streams) for task in wave)


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
    ``parallel_extracts`` runs the tasks of a wave side by side (the extracts, the loads), as the DAG
    may: those of the API pool at most its 3 slots at once. ``connect`` opens the warehouse
    connections (default: ``psycopg.connect(db_url)``), e.g. as the DAG does, from connection ``sales_db``.
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
        self.streams = streams or registry(self.config.quote_entity_id)
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
        active_runs: ActiveRuns | None = None,
    ) -> PipelineRun:
        """One whole run; raises what the first failing task raised (after the teardown, as the DAG).

        As in Airflow, a task runs when no task upstream of it failed: a stream whose extract failed
        does not load, the others do, and what follows them all does not run (``upstream_failed``).
        ``active_runs``: what Airflow would answer a backfill run asking which logical dates have
        runs queued or running (see :func:`ploomes_sync.tasks.plan_run`); a run whose plan is covered
        by another run skips every other task, the teardown too, as the DAG's ``plan_run`` does."""
        self._counter += 1
        run = self.last_run = PipelineRun(run_id or f"pipeline__{datetime.now(UTC):%Y%m%dT%H%M%S.%f}_{self._counter}")
        states: dict[str, str] = {}
        errors: dict[str, BaseException] = {}
        try:
            for wave in dag_waves(self.streams):
                work = [task for task in wave if not task.is_teardown]
                for task in work:
                    if run.plan is not None and run.plan.get("covered_by"):
                        run.skipped.append(task.task_id)
                        states[task.task_id] = "skipped"
                    elif any(states.get(up) in ("failed", "upstream_failed") for up in task.upstream_task_ids):
                        states[task.task_id] = "upstream_failed"
                    elif task.trigger_rule == "all_success" and any(states.get(up) == "skipped"
                                                                  for up in task.upstream_task_ids):
                        run.skipped.append(task.task_id)
                        states[task.task_id] = "skipped"
                runnable = [task.task_id for task in work if task.task_id not in states]
                pooled = {task.task_id for task in work if task.pool == API_POOL}
                errors.update(self._wave(run, runnable, states, params or {}, run_type, data_interval, active_runs,
                                         pooled))
        finally:
            if run.plan is not None and not run.plan.get("covered_by"):
                self._finish(run)
        if errors:
            raise next(iter(errors.values()))
        return run

    def _wave(self, run: PipelineRun, task_ids: list[str], states: dict[str, str], params: dict[str, Any],
              run_type: str, data_interval: tuple[datetime | None, datetime | None],
              active_runs: ActiveRuns | None, pooled: Collection[str] = ()) -> dict[str, BaseException]:
        """Run tasks whose upstream tasks are done, side by side (or one by one), those of the API pool
        (``pooled``) at most ``API_POOL_SLOTS`` at once, as the DAG's pool has them; what each that failed raised."""
        errors: dict[str, BaseException] = {}
        slots = threading.Semaphore(API_POOL_SLOTS)

        def one(task_id: str) -> None:
            try:
                with slots if task_id in pooled else contextlib.nullcontext():
                    self._step(run, task_id, self._body(run, task_id, params, run_type, data_interval, active_runs))
                states[task_id] = "skipped" if task_id in run.skipped else "success"
            except BaseException as exc:  # noqa: BLE001 (raised by run(), in the caller's thread)
                states[task_id] = "failed"
                errors[task_id] = exc

        if self.parallel_extracts and len(task_ids) > 1:
            threads = [threading.Thread(target=one, args=(task_id,), name=task_id) for task_id in task_ids]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
        else:
            for task_id in task_ids:
                one(task_id)
        return {task_id: errors[task_id] for task_id in task_ids if task_id in errors}

    def _body(self, run: PipelineRun, task_id: str, params: dict[str, Any], run_type: str,
              data_interval: tuple[datetime | None, datetime | None],
              active_runs: ActiveRuns | None) -> Callable[[], Any]:
        """What the DAG's task ``task_id`` calls, on this pipeline's connections and hooks."""
        if task_id.startswith("extract_"):
            stream = self.streams[task_id.removeprefix("extract_")]
            return lambda: self._extract(run, stream, run.plan)
        if task_id.startswith("load_"):
            stream = next(s for s in self.streams if s.target == task_id.removeprefix("load_"))
            return lambda: self._load(stream, run.plan)
        bodies: dict[str, Callable[[], Any]] = {
            "plan_run": lambda: self._plan(run, run_type, params, data_interval, active_runs),
            "check_ploomes_key": lambda: self._check_key(run),
            "list_deletions": lambda: self._list(run, run.plan),
            "reconcile_deletions": lambda: self._reconcile(run, run.plan),
            "aggregate_customer_sales": lambda: self._aggregate(run.plan),
            "validate_by_year": lambda: self._check(run.plan),
        }
        return bodies[task_id]

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
        except AirflowSkipException:
            with self._lock:
                run.skipped.append(name)
            return None
        except BaseException:
            with self._lock:
                run.failed.append(name)
            raise
        finally:
            run.seconds[name] = time.perf_counter() - began
        run.results[name] = result
        return result

    def _plan(self, run: PipelineRun, run_type: str, params: dict[str, Any],
              data_interval: tuple[datetime | None, datetime | None],
              active_runs: ActiveRuns | None) -> dict[str, Any]:
        with self.connect() as conn:
            tasks.migrate_schema(conn, self.streams)
            plan = tasks.plan_run(conn, dag_id=DAG_ID, run_id=run.run_id, run_type=run_type, params=params,
                                  data_interval=data_interval, config=self.config, streams=self.streams,
                                  active_runs=active_runs)
        run.plan = plan.to_xcom()
        return run.plan

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

    def _reconcile(self, run: PipelineRun, plan: dict[str, Any]) -> Any:
        with self._hook(run) as hook, self.connect() as conn, self.connect() as reject_conn:
            return tasks.reconcile_deletions(RunPlan.from_xcom(plan), hook=hook, conn=conn, reject_conn=reject_conn,
                                             config=self.config, streams=self.streams)

    def _extract(self, run: PipelineRun, stream: Stream, plan: dict[str, Any]) -> Any:
        with self._hook(run) as hook, self.connect() as conn, self.connect() as reject_conn:
            return tasks.extract(stream, RunPlan.from_xcom(plan), hook=hook, conn=conn, reject_conn=reject_conn,
                                 config=self.config)

    def _list(self, run: PipelineRun, plan: dict[str, Any]) -> Any:
        with self._hook(run) as hook, self.connect() as conn, self.connect() as reject_conn:
            return tasks.list_deletions(RunPlan.from_xcom(plan), hook=hook, conn=conn, reject_conn=reject_conn,
                                        config=self.config, streams=self.streams)

"""What the fault-injection tests share: the warehouse as one comparable value, and the checks.

A fault is survived when three things hold: a failed run left ``public`` and the watermarks
exactly as they were (nothing half-written), the failure said what happened, and the next run
succeeds with a warehouse equal to the simulator's truth (:func:`assert_converged`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import Any

import psycopg
import pytest

from ploomes_devkit.pipeline import DAG_ID, Pipeline, PipelineRun
from ploomes_simulator import AdminClient
from ploomes_sync import tasks, warehouse
from ploomes_sync.config import SyncConfig
from ploomes_sync.hooks.ploomes import PloomesHook
from ploomes_sync.plan import RunPlan
from tests.support.connections import ploomes_connection
from tests.support.streams import DEALS
from tests.support.truth import assert_warehouse_equals_simulator

# Small waits so a storm of failures costs milliseconds; small pages so an extract spans many
# requests and a fault can land in the middle of one; no proxy for loopback traffic.
FAST_EXTRAS: dict[str, Any] = {
    "requests_per_minute": 600_000,
    "page_size": 20,
    "max_attempts": 4,
    "backoff_base": 0.01,
    "backoff_max": 0.05,
    "max_throttle_wait": 10,
    "timeout": 10,
    "trust_env": False,
}

CONFIG = SyncConfig()

PUBLIC_TABLES = ("sales", "customers", "customer_sales")


def connection_json(url: str, key: str, **extras: Any) -> str:
    """The ``AIRFLOW_CONN_PLOOMES_DEFAULT`` value for the simulator at ``url``."""
    return ploomes_connection(url, key, **{**FAST_EXTRAS, **extras})


@dataclass(frozen=True)
class Snapshot:
    """Every row of the three public tables (as text, all columns) and the watermarks."""

    tables: dict[str, list[str]]
    watermarks: dict[str, Any]

    def counts(self) -> dict[str, int]:
        return {name: len(rows) for name, rows in self.tables.items()}


def snapshot(db_url: str) -> Snapshot:
    """The warehouse as readers see it now, from a connection of its own."""
    tables: dict[str, list[str]] = {}
    with psycopg.connect(db_url, autocommit=True) as conn:
        for table in PUBLIC_TABLES:
            # the table name comes from the fixed tuple above
            rows = conn.execute(f"SELECT t::text FROM public.{table} AS t ORDER BY 1").fetchall()
            tables[table] = [row[0] for row in rows]
        marks = warehouse.get_watermarks(conn)
    return Snapshot(tables, marks)


def assert_unchanged(db_url: str, before: Snapshot, tables: tuple[str, ...] = PUBLIC_TABLES,
                     streams: tuple[str, ...] = ("deals", "contacts")) -> None:
    """Nothing of a failed run is visible: every row of ``tables`` and every watermark of ``streams``
    as before."""
    after = snapshot(db_url)
    for stream in streams:
        assert after.watermarks.get(stream) == before.watermarks.get(stream), (
            f"the {stream} watermark moved although the run failed")
    for table in tables:
        gained = sorted(set(after.tables[table]) - set(before.tables[table]))
        lost = sorted(set(before.tables[table]) - set(after.tables[table]))
        assert not gained and not lost, (
            f"public.{table} changed under a failed run: {len(gained)} rows new or changed, "
            f"{len(lost)} gone, e.g. {(gained or lost)[:2]}"
        )


def assert_converged(db_url: str, admin: AdminClient) -> None:
    """Every contract column of every public row equals what the simulator's truth demands."""
    with psycopg.connect(db_url) as conn:
        assert_warehouse_equals_simulator(conn, admin)


def run_status(db_url: str, run_id: str) -> dict[str, Any]:
    with psycopg.connect(db_url, autocommit=True) as conn:
        return warehouse.get_run(conn, run_id)


def run_ok(pipeline: Pipeline, db_url: str, admin: AdminClient, run_id: str) -> PipelineRun:
    """One run that must succeed and leave the warehouse equal to the truth."""
    run = pipeline.run(run_id=run_id)
    assert run_status(db_url, run_id)["status"] == "success"
    assert_converged(db_url, admin)
    return run


def run_fails(pipeline: Pipeline, run_id: str, expected: type[BaseException] | tuple[type[BaseException], ...],
              ) -> pytest.ExceptionInfo[BaseException]:
    """One run that must fail with ``expected``; the error is returned for its message."""
    with pytest.raises(expected) as failure:
        pipeline.run(run_id=run_id)
    return failure


def extract_only(db_url: str, run_id: str) -> RunPlan:
    """A run's first tasks (migrate, plan, extract_deals) as the DAG runs them; the plan it holds."""
    with psycopg.connect(db_url) as conn:
        tasks.migrate_schema(conn)
        plan = tasks.plan_run(conn, dag_id=DAG_ID, run_id=run_id, run_type="manual",
                              params={}, data_interval=(None, None),
                              config=CONFIG)
    with psycopg.connect(db_url) as conn, psycopg.connect(db_url) as reject_conn:
        tasks.extract(DEALS, plan, hook=PloomesHook(), conn=conn, reject_conn=reject_conn, config=CONFIG)
    return plan


def read_began(db_url: str, plan: RunPlan, stream: str = "deals") -> Any:
    """When the run's extract of ``stream`` began reading, in Ploomes' clock: where its load moves the watermark."""
    from ploomes_sync import streams

    with psycopg.connect(db_url) as conn:
        return warehouse.staged(conn, streams.registry()[stream], plan.run_id).read_started_at


def watermark_after_load(db_url: str, plan: RunPlan, before: Snapshot, stream: str = "deals") -> Any:
    """Where the run's load leaves ``stream``'s watermark: when its read began, unless the one
    ``before`` is later (it never moves back; two reads whose first answers share a second of the
    Date header differ only by those answers' times)."""
    return max(before.watermarks[stream], read_began(db_url, plan, stream))


@contextmanager
def watermark_row_locked(db_url: str, stream: str = "deals") -> Iterator[psycopg.Connection]:
    """Hold the row lock of ``stream``'s watermark: a load that reaches it waits mid-transaction."""
    conn = psycopg.connect(db_url)
    try:
        locked = conn.execute("SELECT stream FROM ploomes_sync.watermarks WHERE stream = %s FOR UPDATE",
                              [stream]).fetchall()
        assert locked, f"no {stream} watermark to lock: run once first"
        yield conn
    finally:
        with suppress(psycopg.OperationalError):  # the server may have ended the session under the test
            conn.rollback()
        conn.close()


def backend_waiting_on_lock(db_url: str, application_name: str, give_up: Callable[[], str | None],
                            holder: psycopg.Connection, attempts: int = 600) -> int:
    """The pid of the backend of ``application_name`` once it waits for a lock ``holder`` holds (not
    any lock: on a busy machine a backend also waits a moment to extend a table, for example).

    ``give_up`` returns a reason to stop looking (the client died first), else None.
    """
    with psycopg.connect(db_url, autocommit=True) as conn:
        for _ in range(attempts):
            row = conn.execute("SELECT pid FROM pg_stat_activity WHERE application_name = %s "
                               "AND %s = ANY(pg_blocking_pids(pid))",
                               [application_name, holder.info.backend_pid]).fetchone()
            if row is not None:
                return row[0]
            reason = give_up()
            assert reason is None, reason
            time.sleep(0.1)
    raise AssertionError(f"{application_name} never reached the lock")


def holds_write_lock_on(db_url: str, pid: int, table: str) -> bool:
    """Whether backend ``pid`` has written ``table`` in its open transaction (RowExclusiveLock)."""
    with psycopg.connect(db_url, autocommit=True) as conn:
        return conn.execute("SELECT EXISTS (SELECT 1 FROM pg_locks WHERE pid = %s AND relation = %s::regclass "
                            "AND mode = 'RowExclusiveLock' AND granted)", [pid, table]).fetchone()[0]


def wait_backend_gone(db_url: str, application_name: str, attempts: int = 600) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        for _ in range(attempts):
            if conn.execute("SELECT count(*) FROM pg_stat_activity WHERE application_name = %s",
                            [application_name]).fetchone()[0] == 0:
                return
            time.sleep(0.1)
    raise AssertionError(f"the backend of {application_name} is still there")

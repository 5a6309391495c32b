"""A scheduled run and several Airflow backfill runs in flight at once, each in a process of its own.

The DAG allows it (backfills may overlap each other and the schedule): migrations and merges take
turns under advisory locks, a run never overwrites a newer row with an older one, and the deletion
archive judges only rows written before its listing started. So every run succeeds and the
warehouse ends equal to the simulator's truth; when Ploomes changes while they run, the next
scheduled run converges.

The runs are ``ploomes_devkit.pipeline.Pipeline``: the DAG's own task functions in the DAG's order,
each task on connections of its own, as on separate workers. Each run goes to a worker process of
its own, and they all start at the same instant.
"""

from __future__ import annotations

import multiprocessing
import os
import time
import traceback
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest

from ploomes_simulator import RunningSimulator
from tests.support.connections import simulated_ploomes
from tests.support.truth import assert_warehouse_equals_simulator

BACKFILLS = 3
WORKERS = BACKFILLS + 1
CONN_ENV = "AIRFLOW_CONN_PLOOMES_DEFAULT"
CONFIG = {"lookback_minutes": 5, "max_deletion_share": 0.5}  # many deletions in small ranges
EXTRAS = {"requests_per_minute": 600_000, "page_size": 100, "backoff_base": 0.01, "backoff_max": 0.05,
          "timeout": 20, "trust_env": False}
RUN_TIMEOUT = 240


# --- what runs in the worker processes ---------------------------------------------------------------


def _warm() -> int:
    """Import what a run needs, so that the runs themselves start together."""
    import ploomes_devkit.pipeline  # noqa: F401

    time.sleep(0.2)  # busy long enough that each warm-up call lands in a process of its own
    return os.getpid()


def _run(env: dict[str, str], db_url: str, run_id: str, run_type: str, interval: tuple[str, str] | None,
         start_at: float, pause: tuple[str, Any, Any] | None = None) -> dict[str, Any]:
    """One whole run, started at ``start_at``; what happened, as plain data.

    ``pause`` is ``(task, reached, go)``: before ``task`` the run sets the event ``reached`` and
    waits for ``go``.
    """
    from ploomes_devkit.pipeline import Pipeline
    from ploomes_sync.config import SyncConfig

    os.environ.update(env)  # the workers outlive a test: its connection comes with each run

    def before(task: str) -> None:
        if pause is not None and task == pause[0]:
            pause[1].set()
            if not pause[2].wait(RUN_TIMEOUT):
                raise TimeoutError(f"nobody let {run_id} go on to {task}")

    data_interval = (None, None) if interval is None else tuple(datetime.fromisoformat(v) for v in interval)
    time.sleep(max(0.0, start_at - time.time()))
    outcome: dict[str, Any] = {"run_id": run_id, "pid": os.getpid(), "began": time.time(), "error": None}
    try:
        Pipeline(db_url, config=SyncConfig(**CONFIG), before=before).run(
            run_id=run_id, run_type=run_type, data_interval=data_interval)
    except Exception:  # noqa: BLE001 (handed to the test, which fails showing it)
        outcome["error"] = traceback.format_exc()
    outcome["ended"] = time.time()
    return outcome


# --- fixtures -------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def workers() -> Iterator[ProcessPoolExecutor]:
    """Warm worker processes shared by the module's tests.

    They are forked from a fork server that imported the pipeline once and never ran a thread of
    the test's: nearly as cheap as fork, as clean as spawn.
    """
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["ploomes_devkit.pipeline"])
    with ProcessPoolExecutor(WORKERS, mp_context=context) as pool:
        pids = {future.result() for future in [pool.submit(_warm) for _ in range(WORKERS)]}
        assert len(pids) == WORKERS
        yield pool


@pytest.fixture
def sim(api_key: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[RunningSimulator]:
    with simulated_ploomes(monkeypatch, api_key, deals=900, contacts=80, seed=11, **EXTRAS) as running:
        yield running


# --- helpers --------------------------------------------------------------------------------------------


def backfill_intervals(deals: list[dict], count: int = BACKFILLS) -> list[tuple[str, str]]:
    """Consecutive data intervals covering every deal's creation, plus one straddling the first two."""
    created = sorted(datetime.fromisoformat(d["CreateDate"]) for d in deals)
    start, end = created[0] - timedelta(days=1), created[-1] + timedelta(days=1)
    step = (end - start) / (count - 1)
    edges = [start + step * i for i in range(count)]
    intervals = [(edges[i], edges[i + 1]) for i in range(count - 1)]
    intervals.append((edges[0] + step / 2, edges[1] + step / 2))
    return [(a.isoformat(), b.isoformat()) for a, b in intervals]


def submit(pool: ProcessPoolExecutor, db_url: str, run_id: str, run_type: str, start_at: float,
           interval: tuple[str, str] | None = None, pause: tuple[str, Any, Any] | None = None) -> Future:
    if interval is None and run_type == "scheduled":
        now = datetime.now(UTC)
        interval = ((now - timedelta(hours=6)).isoformat(), now.isoformat())
    env = {CONN_ENV: os.environ[CONN_ENV]}
    return pool.submit(_run, env, db_url, run_id, run_type, interval, start_at, pause)


def run_together(pool: ProcessPoolExecutor, db_url: str, phase: str, intervals: list[tuple[str, str]],
                 during: Callable[[], None] | None = None) -> list[dict[str, Any]]:
    """One scheduled run and a backfill run per interval, all started at the same instant.

    ``during`` is called while the scheduled run waits between its extracts and ``load_sales`` (so
    Ploomes changes while every run is in flight, whatever the machine's speed), which then goes on.
    """
    start_at = time.time() + 0.5
    with multiprocessing.get_context("forkserver").Manager() as manager:
        reached, go = manager.Event(), manager.Event()
        pause = ("load_sales", reached, go) if during is not None else None
        futures = [submit(pool, db_url, f"scheduled__{phase}", "scheduled", start_at, pause=pause)]
        futures += [submit(pool, db_url, f"backfill__{phase}_{i}", "backfill", start_at, interval)
                    for i, interval in enumerate(intervals)]
        if during is not None:
            assert reached.wait(RUN_TIMEOUT), futures[0].result() if futures[0].done() else "never got there"
            during()
            go.set()
        return [future.result(timeout=RUN_TIMEOUT) for future in futures]


def assert_overlapped(outcomes: list[dict[str, Any]]) -> None:
    assert len({o["pid"] for o in outcomes}) == len(outcomes), "each run in a process of its own"
    assert max(o["began"] for o in outcomes) < min(o["ended"] for o in outcomes), (
        "every run was in flight at the same moment")


def assert_all_succeeded(outcomes: list[dict[str, Any]]) -> None:
    failed = {o["run_id"]: o["error"] for o in outcomes if o["error"]}
    assert not failed, "\n".join(f"{key}:\n{error}" for key, error in failed.items())


def history(db_url: str) -> dict[str, tuple]:
    with psycopg.connect(db_url) as conn:
        rows = conn.execute("SELECT run_id, run_type, mode, status FROM ploomes_sync.run_history").fetchall()
    return {row[0]: row[1:] for row in rows}


def assert_equals_truth(db_url: str, sim: RunningSimulator) -> None:
    with psycopg.connect(db_url) as conn:
        assert_warehouse_equals_simulator(conn, sim.admin)


def pipeline(db_url: str):
    from ploomes_devkit.pipeline import Pipeline
    from ploomes_sync.config import SyncConfig

    return Pipeline(db_url, config=SyncConfig(**CONFIG))


class TestScheduledRunAndBackfillsAtOnce:
    def test_first_runs_on_an_empty_warehouse_all_succeed_and_equal_the_truth(self, sim, workers, db_url):
        outcomes = run_together(workers, db_url, "first", backfill_intervals(sim.admin.truth_deals()))

        assert_all_succeeded(outcomes)
        assert_overlapped(outcomes)
        runs = history(db_url)
        assert runs["scheduled__first"] == ("scheduled", "full", "success")
        assert [runs[f"backfill__first_{i}"] for i in range(BACKFILLS)] == [("backfill", "range", "success")] * 3
        with psycopg.connect(db_url) as conn:
            applied = conn.execute("SELECT count(*) FROM ploomes_sync.schema_migrations").fetchone()[0]
        from ploomes_sync.warehouse.migrate import discover

        assert applied == len(discover()), "each migration applied once, by whichever run got the lock first"
        assert_equals_truth(db_url, sim)

    def test_runs_after_changes_in_ploomes_all_succeed_and_equal_the_truth(self, sim, workers, db_url):
        pipeline(db_url).run(run_id="scheduled__initial", run_type="scheduled")
        admin = sim.admin
        admin.mutate(updates=60, deletes=20, creates=30, seed=5)
        for contact in admin.truth_contacts()[:3]:
            admin.update_contact(contact["Id"], Name=f"{contact['Name']} (renomeada)")

        outcomes = run_together(workers, db_url, "after", backfill_intervals(admin.truth_deals()))

        assert_all_succeeded(outcomes)
        assert_overlapped(outcomes)
        runs = history(db_url)
        assert runs["scheduled__after"] == ("scheduled", "incremental", "success")
        assert [runs[f"backfill__after_{i}"] for i in range(BACKFILLS)] == [("backfill", "range", "success")] * 3
        assert_equals_truth(db_url, sim)

    def test_changes_made_while_they_run_converge_on_the_next_scheduled_run(self, sim, workers, db_url):
        pipeline(db_url).run(run_id="scheduled__initial", run_type="scheduled")
        admin = sim.admin
        changed_at: list[float] = []

        def change_ploomes() -> None:
            admin.mutate(updates=40, deletes=15, creates=20, seed=9)
            admin.update_contact(admin.truth_contacts()[0]["Id"], Name="Alterada Durante Ltda")
            changed_at.append(time.time())

        outcomes = run_together(workers, db_url, "during", backfill_intervals(admin.truth_deals()),
                                during=change_ploomes)
        assert_overlapped(outcomes)
        assert min(o["began"] for o in outcomes) < changed_at[0] < max(o["ended"] for o in outcomes), (
            "Ploomes changed while runs were in flight")
        # A run may see Ploomes half-changed (and its validation may then fail); none may leave the
        # warehouse in a state the next scheduled run cannot bring back to the truth.
        pipeline(db_url).run(run_id="scheduled__next", run_type="scheduled")
        assert history(db_url)["scheduled__next"][2] == "success"
        assert_equals_truth(db_url, sim)

    def test_a_backfill_that_read_before_a_change_never_overwrites_what_the_schedule_loaded_after_it(
        self, sim, workers, db_url,
    ):
        """The worst interleaving, forced: the backfill extracts, Ploomes changes, the scheduled run
        reads and loads the new versions, and only then does the backfill load its older ones."""
        pipeline(db_url).run(run_id="scheduled__initial", run_type="scheduled")
        admin = sim.admin
        (interval,) = backfill_intervals(admin.truth_deals(), 2)[:1]
        manager = multiprocessing.get_context("forkserver").Manager()
        with manager:
            reached, go = manager.Event(), manager.Event()
            backfill = submit(workers, db_url, "backfill__stale", "backfill", time.time(), interval,
                              pause=("load_sales", reached, go))
            assert reached.wait(RUN_TIMEOUT), backfill.result() if backfill.done() else "backfill never got there"
            changed = admin.mutate(updates=50, deletes=10, seed=13)
            time.sleep(0.05)  # the changes strictly before the scheduled run's cutoff
            pipeline(db_url).run(run_id="scheduled__fresh", run_type="scheduled")
            go.set()
            outcome = backfill.result(timeout=RUN_TIMEOUT)
        assert_all_succeeded([outcome])
        with psycopg.connect(db_url) as conn:
            deals = conn.execute("SELECT streams -> 'deals' FROM ploomes_sync.run_history WHERE run_id = %s",
                                 ["backfill__stale"]).fetchone()[0]
        # It held the old version of every changed deal and wrote none of them, nor put back the
        # deals the scheduled run found deleted meanwhile.
        assert changed["deleted"]
        assert deals["updated"] == deals["inserted"] == deals["deleted"] == 0, deals
        assert_equals_truth(db_url, sim)  # with no further run

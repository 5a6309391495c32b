"""The load task killed with SIGKILL in the middle of its transaction.

``load_sales`` runs in a process of its own, as on a worker. The test holds the row lock of the
deals watermark, so the load stops at its last statement: public.sales already rewritten inside
its transaction (the backend holds RowExclusiveLock on it), the watermark not yet moved. Then the
worker is killed. Nothing it wrote may be visible, then or after, and the watermark must not move;
Airflow's retry of the task with the same plan, and the next run, converge.

Were the merge and the watermark in separate transactions, the merge would be committed by then
and the warehouse would show the changes with the old watermark: this test would fail.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import psycopg

from ploomes_devkit.pipeline import Pipeline
from ploomes_simulator import RunningSimulator
from ploomes_sync import tasks
from tests.reliability.harness import (
    assert_unchanged,
    backend_waiting_on_lock,
    extract_only,
    holds_write_lock_on,
    run_ok,
    snapshot,
    wait_backend_gone,
    watermark_after_load,
    watermark_row_locked,
)
from tests.support.streams import DEALS

WORKER = "reliability-sigkill-worker"

# What the worker process runs: the DAG's load task on its own connection.
LOAD_SALES = """
import json, sys
import psycopg
from ploomes_sync import tasks
from ploomes_sync.plan import RunPlan
from ploomes_sync.streams import registry

db_url, plan, application_name = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3]
with psycopg.connect(db_url, application_name=application_name) as conn:
    tasks.load(registry()["deals"], RunPlan.from_xcom(plan), conn=conn)
"""


def test_load_killed_mid_transaction_leaves_nothing_and_the_retry_converges(
    sim: RunningSimulator, db_url: str, pipeline: Pipeline,
) -> None:
    run_ok(pipeline, db_url, sim.admin, "baseline")
    changed = sim.admin.mutate(updates=80, deletes=4, creates=12, seed=1)
    plan = extract_only(db_url, "killed")
    before = snapshot(db_url)

    with watermark_row_locked(db_url) as holder:
        worker = subprocess.Popen(
            [sys.executable, "-c", LOAD_SALES, db_url, json.dumps(plan.to_xcom()), WORKER],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        try:
            pid = backend_waiting_on_lock(
                db_url, WORKER,
                give_up=lambda: None if worker.poll() is None else f"the worker ended: {worker.communicate()}",
                holder=holder,
            )
            assert holds_write_lock_on(db_url, pid, "public.sales"), "the load had not written public.sales yet"
            assert_unchanged(db_url, before)  # readers see nothing of the open transaction
            os.kill(worker.pid, signal.SIGKILL)
            assert worker.wait() == -signal.SIGKILL
        finally:
            if worker.poll() is None:
                worker.kill()
                worker.wait()
            worker.stdout.close()
            worker.stderr.close()
    wait_backend_gone(db_url, WORKER)  # the lock is gone: the orphaned backend ran on and rolled back

    assert_unchanged(db_url, before)

    # Airflow retries the task with the same plan: the staging is intact, the load completes.
    with psycopg.connect(db_url) as conn:
        counts = tasks.load(DEALS, plan, conn=conn)
    assert counts["inserted"] == len(changed["created"])
    assert counts["updated"] == len(changed["updated"])
    assert snapshot(db_url).watermarks["deals"] == watermark_after_load(db_url, plan, before)
    run_ok(pipeline, db_url, sim.admin, "after-the-kill")

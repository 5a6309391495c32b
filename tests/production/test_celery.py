"""The sync on CeleryExecutor with two workers, as real deployments run it.

Airflow (PostgreSQL as its metadata database, Redis as the broker) runs the DAG with two
``airflow celery worker`` processes, each with a working directory and a temporary directory of
its own. A cluster policy (``airflow_local_settings.py``, the test's: nothing in the DAG names a
queue) sends the tasks that call Ploomes to one worker's queue and every other task to the other's,
so every handoff from an extract to its load crosses workers. The run must end with the warehouse
equal to the simulator's truth: nothing passes between tasks but XCom and the warehouse.
"""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from ploomes_devkit.airflow_standalone import AirflowStandalone, ExtraProcess, free_port
from ploomes_devkit.demo import postgres_connection
from ploomes_devkit.postgres import create_database, drop_database, sqlalchemy_url
from ploomes_devkit.simulator_process import SimulatorProcess
from ploomes_sync.settings import API_POOL
from ploomes_sync.streams import registry
from tests.support.truth import assert_warehouse_equals_simulator

ROOT = Path(__file__).resolve().parents[2]
DAG_ID = "ploomes_sales_sync"
API_KEY = "test-key-celery-8d1e3c5a7b9f4e2d6c0a1b3e"
API_QUEUE, WAREHOUSE_QUEUE = "ploomes_api_calls", "warehouse_work"

POLICY = f'''
"""The test's cluster policy: API tasks on one worker, everything else on the other."""
import os


def task_policy(task):
    task.queue = "{API_QUEUE}" if task.pool == "{API_POOL}" else "{WAREHOUSE_QUEUE}"


def worker_name():
    """hostname_callable: which worker ran a task instance, in the metadata database."""
    return os.environ.get("TEST_WORKER_NAME", "not-a-worker")
'''


@pytest.fixture(scope="module")
def celery_airflow(pg_admin_url: str, redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    home = tmp_path_factory.mktemp("celery-airflow")
    policy_dir = home / "policy"
    policy_dir.mkdir()
    (policy_dir / "airflow_local_settings.py").write_text(textwrap.dedent(POLICY))
    metadata = create_database(pg_admin_url, prefix="ploomes_airflow_meta")
    warehouse = create_database(pg_admin_url, prefix="ploomes_celery_wh")
    metadata_url = sqlalchemy_url(metadata)
    try:
        with SimulatorProcess(deals=900, contacts=60, seed=21, api_key=API_KEY, rate_limit=0) as sim:
            env = {
                "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": metadata_url,
                "AIRFLOW__CELERY__BROKER_URL": redis_url,
                "AIRFLOW__CELERY__RESULT_BACKEND": "db+" + metadata_url.replace("+psycopg2", ""),
                "AIRFLOW__CORE__HOSTNAME_CALLABLE": "airflow_local_settings.worker_name",
                "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",
                "PYTHONPATH": str(policy_dir),
                "AIRFLOW_CONN_PLOOMES_DEFAULT": json.dumps({
                    "conn_type": "ploomes", "host": sim.url, "password": API_KEY,
                    "extra": {"requests_per_minute": 6000, "backoff_base": 0.05, "backoff_max": 0.2}}),
                "AIRFLOW_CONN_SALES_DB": json.dumps(postgres_connection(warehouse)),
            }
            workers = {
                name: ExtraProcess(("celery", "worker", "--queues", queue, "--concurrency", "2",
                                    "--celery-hostname", f"{name}@%h", "--skip-serve-logs"),
                                   cwd=home / name / "cwd",
                                   env={"TEST_WORKER_NAME": name, "TMPDIR": str(_mkdir(home / name / "tmp"))})
                for name, queue in (("worker-api", API_QUEUE), ("worker-warehouse", WAREHOUSE_QUEUE))
            }
            with AirflowStandalone(home / "airflow", dags_folder=ROOT / "dags", plugins_folder=ROOT / "plugins",
                                   env=env, port=free_port(), extra_processes=workers) as airflow:
                api = airflow.client()
                api.set_pool(API_POOL, 3, "Ploomes API")
                api.wait_for_dag(DAG_ID, alive=airflow.check_alive)
                api.set_paused(DAG_ID, False)
                yield {"airflow": airflow, "api": api, "sim": sim, "warehouse": warehouse, "metadata": metadata,
                       "home": home}
    finally:
        drop_database(pg_admin_url, warehouse)
        drop_database(pg_admin_url, metadata)


def _mkdir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def test_two_celery_workers_hand_the_run_over_to_each_other_and_the_warehouse_equals_the_truth(celery_airflow):
    api, airflow, sim = celery_airflow["api"], celery_airflow["airflow"], celery_airflow["sim"]
    sim.admin.mutate(updates=5, seed=1)
    run = api.trigger_dag_run(DAG_ID)
    finished = api.wait_for_dag_run(DAG_ID, run["dag_run_id"], timeout=420, alive=airflow.check_alive)
    tis = {ti["task_id"]: ti for ti in api.task_instances(DAG_ID, run["dag_run_id"])}
    assert finished["state"] == "success", {task: ti["state"] for task, ti in tis.items()}

    api_tasks = {"check_ploomes_key", "list_deletions", "reconcile_deletions",
                 *(f"extract_{stream.name}" for stream in registry())}
    for task_id, ti in tis.items():
        if ti["state"] == "skipped":
            continue
        expected = "worker-api" if task_id in api_tasks else "worker-warehouse"
        assert (ti["queue"], ti["hostname"]) == (API_QUEUE if task_id in api_tasks else WAREHOUSE_QUEUE,
                                                 expected), task_id
    # every extract and its load ran on different workers
    for stream in registry():
        assert tis[f"extract_{stream.name}"]["hostname"] != tis[f"load_{stream.target}"]["hostname"]

    with psycopg.connect(celery_airflow["warehouse"]) as conn:
        assert_warehouse_equals_simulator(conn, sim.admin)
        status = conn.execute("SELECT status FROM ploomes_sync.run_history WHERE run_id = %s",
                              [run["dag_run_id"]]).fetchone()
    assert status == ("success",)
    # the workers' own directories hold nothing the other could have needed
    for name in ("worker-api", "worker-warehouse"):
        leftovers = [p for p in (celery_airflow["home"] / name / "tmp").rglob("*") if p.is_file()]
        assert not leftovers, leftovers

"""``make demo ONCE=1`` itself: simulator, warehouse, SMTP and Airflow up, one run, MATCH, all down.

Kept in a module of its own so the Airflow shared by the other e2e tests is stopped before this one
starts another (two cores).
"""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import psycopg
import pytest

ROOT = Path(__file__).resolve().parents[2]
DEMO_DEALS = 2000


def processes_with_home(home: Path) -> list[int]:
    """Live processes whose environment has ``AIRFLOW_HOME=home`` (what the demo's Airflow runs)."""
    marker = f"AIRFLOW_HOME={home}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            environ = (entry / "environ").read_bytes()
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z" and marker in environ.split(b"\0"):
            found.append(int(entry.name))
    return found


def make_demo_command() -> list[str]:
    """``make demo ONCE=1``; when the venv's install stamp is out of date (a requirements file or
    pyproject.toml changed since the last install), ``-o`` keeps make from reinstalling packages
    during a test (no network here): the demo recipe itself still runs."""
    command = ["make", "--no-print-directory", "demo", "ONCE=1"]
    stale = subprocess.run(["make", "-q", ".venv/.installed"], cwd=ROOT, capture_output=True).returncode != 0
    return command + (["-o", ".venv/.installed"] if stale else [])


def test_make_demo_once_runs_the_sync_and_prints_match(db_url: str, tmp_path: Path):
    workdir = tmp_path / "demo"
    env = {key: value for key, value in os.environ.items() if not key.startswith("AIRFLOW")}
    env.update({"SALES_DB_URL": db_url, "PLOOMES_DEMO_DEALS": str(DEMO_DEALS),
                "PLOOMES_DEMO_DIR": str(workdir), "PLOOMES_DEMO_TIMEOUT": "300"})
    # a session of its own: on a timeout, SIGTERM reaches make and the demo, which then shuts down
    # everything it started (a plain kill of make would orphan the demo and its Airflow)
    demo = subprocess.Popen(make_demo_command(), cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        output, _ = demo.communicate(timeout=480)
    except subprocess.TimeoutExpired:
        os.killpg(demo.pid, signal.SIGTERM)
        output, _ = demo.communicate(timeout=90)
        pytest.fail(f"make demo ONCE=1 did not finish in 480 s:\n{output[-6000:]}")
    assert demo.returncode == 0, output[-6000:]
    assert "MATCH: the warehouse equals the simulator's truth" in output, output[-6000:]
    assert "MISMATCH" not in output
    assert "SALES_DB_URL" in output  # it said which warehouse it used
    assert "login: admin / " in output and "http://127.0.0.1:" in output
    assert f"{DEMO_DEALS:,} deals" in output
    # a dashboard's question asked by name, answered for some year
    answered = output.split("deals whose Segmento is Hospital:", 1)[-1].splitlines()[2:3]
    assert answered and answered[0].split()[0].isdigit(), output[-6000:]
    # the webhook leg: registered by the setup DAG, a deal changed in the simulator arrived by itself
    assert "registered in the simulator by ploomes_webhook_setup" in output, output[-6000:]
    assert "s later (run ploomes_webhook_apply)" in output, output[-6000:]
    assert "/plugin/ploomes-sync-health" in output
    assert (workdir / "airflow.log").stat().st_size > 0
    # what it did: the full sync first, with its pages and requests; the simulator's own log; the watchdog
    runs = output.split("The runs so far (ploomes_sync.run_history), oldest first:", 1)[-1].splitlines()[3:]
    assert runs and runs[0].split()[2] == "full" and int(runs[0].split()[5].replace(",", "")) > 0, output[-6000:]
    assert "GET /Deals?" in (workdir / "simulator.log").read_text()
    assert "ploomes_sync_watchdog unpaused" in output
    # Airflow's metadata in PostgreSQL, as in production (SQLite locks the API server out of backfills)
    assert "metadata in database ploomes_demo_airflow_" in output
    assert not list((workdir / "airflow").glob("*.db")), "the demo's Airflow made a SQLite database"

    assert not processes_with_home(workdir / "airflow"), "the demo left Airflow processes behind"
    with psycopg.connect(db_url) as conn:
        assert conn.execute("SELECT count(*) FROM public.sales").fetchone()[0] == DEMO_DEALS
        statuses = conn.execute("SELECT status FROM ploomes_sync.run_history").fetchall()
    assert statuses and {row[0] for row in statuses} == {"success"}

"""PostgreSQL restarted while a run loads: a private server of this module's own, never the shared one.

The load of a run is held mid-transaction (the test holds the row lock of the deals watermark),
then the server restarts: cleanly (``-m fast``: every backend terminated, unlogged staging kept)
or as after a crash (``-m immediate``: crash recovery, unlogged staging emptied). The load task
fails with psycopg's ``OperationalError`` saying the connection was terminated, nothing of it is
visible, the watermark stays; Airflow's retry of the task with the same plan either loads what the
run staged (fast) or refuses with ``StageMissing`` because the staging is gone (crash), never
"loads" nothing and moves the watermark past changes it did not write; the next run converges.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import threading
from collections.abc import Iterator

import psycopg
import pytest

from ploomes_devkit.pipeline import Pipeline
from ploomes_devkit.postgres import create_database, drop_database, throwaway_server
from ploomes_simulator import RunningSimulator
from ploomes_sync import tasks
from ploomes_sync.warehouse import StageMissing
from tests.reliability.conftest import Connect
from tests.reliability.harness import (
    CONFIG,
    assert_unchanged,
    backend_waiting_on_lock,
    extract_only,
    holds_write_lock_on,
    run_ok,
    snapshot,
    watermark_after_load,
    watermark_row_locked,
)
from tests.support.streams import DEALS

LOADER = "reliability-restart-loader"


def _pg_ctl() -> str:
    found = shutil.which("pg_ctl") or next(iter(sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"),
                                                      reverse=True)), None)
    assert found, "pg_ctl is not installed"
    return found


class PrivateServer:
    """A throwaway PostgreSQL this module may restart at will."""

    def __init__(self, admin_url: str) -> None:
        self.admin_url = admin_url
        with psycopg.connect(admin_url, autocommit=True) as conn:
            self.data_directory = conn.execute("SHOW data_directory").fetchone()[0]

    def restart(self, mode: str) -> None:
        """``pg_ctl restart -m <mode>`` (as the data directory's owner), waiting until it accepts.

        The new postmaster logs to a file: were it handed our pipes, waiting for them would never end.
        """
        run_as = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        log = os.path.join(os.path.dirname(self.data_directory), "log")
        subprocess.run([*run_as, _pg_ctl(), "-D", self.data_directory, "-l", log, "-m", mode, "-w", "-t", "60",
                        "restart"], check=True, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, timeout=120)


@pytest.fixture(scope="module")
def private_server() -> Iterator[PrivateServer]:
    with throwaway_server() as admin_url:
        yield PrivateServer(admin_url)


@pytest.fixture
def private_db_url(private_server: PrivateServer) -> Iterator[str]:
    url = create_database(private_server.admin_url)
    yield url
    drop_database(private_server.admin_url, url)


@pytest.mark.parametrize("mode", ["fast", "immediate"])
def test_server_restarted_mid_load_fails_clearly_keeps_watermark_and_converges(
    mode: str, sim: RunningSimulator, connect: Connect, private_server: PrivateServer, private_db_url: str,
) -> None:
    db_url = private_db_url
    pipeline = Pipeline(db_url, config=CONFIG)
    run_ok(pipeline, db_url, sim.admin, "baseline")
    changed = sim.admin.mutate(updates=70, deletes=3, creates=9, seed=2)
    plan = extract_only(db_url, "restarted")
    before = snapshot(db_url)

    outcome: dict[str, BaseException | dict] = {}

    def load() -> None:
        try:
            with psycopg.connect(db_url, application_name=LOADER) as conn:
                outcome["result"] = tasks.load(DEALS, plan, conn=conn)
        except BaseException as exc:  # noqa: BLE001 - handed to the test thread, which asserts on it
            outcome["error"] = exc

    loader = threading.Thread(target=load, name=LOADER)
    with watermark_row_locked(db_url) as holder:
        loader.start()
        pid = backend_waiting_on_lock(
            db_url, LOADER, give_up=lambda: None if loader.is_alive() else f"the load ended: {outcome}",
            holder=holder)
        assert holds_write_lock_on(db_url, pid, "public.sales")
        private_server.restart(mode)
    loader.join()

    error = outcome.get("error")
    assert isinstance(error, psycopg.OperationalError), f"expected the load to fail, got {outcome}"
    assert "terminat" in str(error) or "closed the connection" in str(error), str(error)
    assert_unchanged(db_url, before)

    # Airflow retries the task with the same plan.
    with psycopg.connect(db_url) as conn:
        if mode == "fast":  # unlogged staging survives a clean shutdown: the retry loads it
            counts = tasks.load(DEALS, plan, conn=conn)
            assert (counts["inserted"], counts["updated"]) == (len(changed["created"]), len(changed["updated"]))
            assert snapshot(db_url).watermarks["deals"] == watermark_after_load(db_url, plan, before)
        else:  # crash recovery empties unlogged tables: the retry must not "load" nothing
            with pytest.raises(StageMissing, match="run the extract task of this run again"):
                tasks.load(DEALS, plan, conn=conn)
            assert_unchanged(db_url, before)

    run_ok(pipeline, db_url, sim.admin, "after-the-restart")

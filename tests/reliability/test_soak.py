"""A soak: consecutive incremental runs with random changes in Ploomes and random faults between them.

3% of the deals and contacts are dated days ahead of the API's clock, and every round also edits
or deletes some of those (their new dates are earlier than the stored ones).

Every round changes deals (updates, deletions, creations) and contacts, then draws a fault: none,
an API storm the retries absorb, a storm beyond them, a revoked key, a worker that dies between
two tasks, the warehouse session killed by the server in the middle of a load, or a wrong answer
(an empty or partial page, or a redirect to another host) to one request of a random stream. A
failed run is followed, as the scheduler would, by the next run with the fault gone; after every
successful run the warehouse must equal the simulator's truth, except after a wrong answer, which
the next run must put right (nothing is lost for good, and nothing of a wrong answer stays).

``SOAK_RUNS`` sets the number of rounds: 7 by default (``make test``: each fault once), 20 for the full soak
(``SOAK_RUNS=20 .venv/bin/pytest tests/reliability/test_soak.py``). The seed is fixed, so a given
count always plays the same rounds.
"""

from __future__ import annotations

import os
import random
import threading
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime

import psycopg
import pytest

from ploomes_devkit.pipeline import Pipeline
from ploomes_simulator import RunningSimulator, SimulatorConfig, run_in_thread
from ploomes_sync import records
from ploomes_sync.api.errors import PloomesAuthError, PloomesRedirectError, PloomesRequestError
from tests.reliability.conftest import SIM_CONTACTS, SIM_DEALS, Connect
from tests.reliability.harness import (
    CONFIG,
    assert_converged,
    assert_unchanged,
    run_ok,
    run_status,
    snapshot,
    watermark_row_locked,
)

SOAK_RUNS = int(os.environ.get("SOAK_RUNS", "7"))
SEED = 20_260_601

STORMS = {
    "429s": [{"kind": "429", "count": 8, "after": 1}],
    "5xx": [{"kind": "503", "count": 2, "after": 2}, {"kind": "502", "count": 3, "after": 9}],
    "drops": [{"kind": "drop", "count": 2, "after": 3, "path": "/Deals"}],
    "malformed": [{"kind": "malformed", "count": 3, "after": 2, "path": "/Deals"}],
}
FAULTS = ("none", "storm", "storm-beyond-retries", "key-revoked", "worker-dies", "session-killed", "wrong-answer")
WRONG_ANSWERS = ("empty", "partial", "redirect")
PATHS = ("/Deals", "/Contacts", "/Products", "/Quotes", "/Orders")


@pytest.fixture
def sim(api_key: str) -> Iterator[RunningSimulator]:
    """The suite's simulator, with 3% of the deals and contacts dated days ahead of its clock."""
    config = SimulatorConfig(deals=SIM_DEALS, contacts=SIM_CONTACTS, seed=6, api_key=api_key, rate_limit=0,
                             retry_after=True, slow_seconds=1.0, dated_ahead_percent=3)
    with run_in_thread(config) as running:
        yield running


class WorkerDied(Exception):
    """The test's stand-in for a worker lost between two tasks."""


def _change(sim: RunningSimulator, rng: random.Random) -> None:
    sim.admin.mutate(updates=rng.randint(0, 60), deletes=rng.randint(0, 6), creates=rng.randint(0, 15),
                     seed=rng.randrange(2**31))
    now = datetime.now(UTC)
    ahead = [d["Id"] for d in sim.admin.truth_deals() if records.instant(d["LastUpdateDate"], "date") > now]
    for deal_id in rng.sample(ahead, min(len(ahead), rng.randint(0, 3))):
        if rng.random() < 0.3:
            sim.admin.delete_deal(deal_id)
        else:
            sim.admin.update_deal(deal_id, Title=f"edited while dated ahead #{rng.randrange(1000)}")
    contacts = sim.admin.truth_contacts()
    for contact in rng.sample(contacts, rng.randint(0, 8)):
        sim.admin.update_contact(contact["Id"], Name=f"{contact['Name']} #{rng.randrange(1000)}")
    if rng.random() < 0.3:
        sim.admin.create_contact(Name=f"Nova {rng.randrange(10**6)}")


def _kill_session_mid_load(db_url: str) -> threading.Thread:
    """Terminate, from the server side, the session of the load found waiting on our lock (the deals'
    watermark row; other sessions may wait on other locks a moment, such as the request budget's row
    the extracts side by side take turns on)."""
    def killer() -> None:
        with psycopg.connect(db_url, autocommit=True) as conn:
            for _ in range(600):
                row = conn.execute("SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                                   "AND datname = current_database() AND pid <> pg_backend_pid() "
                                   "AND query LIKE '%ploomes_sync.watermarks%'").fetchone()
                if row is not None:
                    conn.execute("SELECT pg_terminate_backend(%s)", [row[0]])
                    return
                threading.Event().wait(0.05)
    thread = threading.Thread(target=killer, name="soak-session-killer")
    thread.start()
    return thread


def test_soak_of_incremental_runs_with_random_changes_and_faults(
    sim: RunningSimulator, db_url: str, connect: Connect, pipeline: Pipeline, api_key: str,
) -> None:
    rng = random.Random(SEED)
    run_ok(pipeline, db_url, sim.admin, "soak-0")
    played: Counter[str] = Counter()
    for round_number in range(1, SOAK_RUNS + 1):
        _change(sim, rng)
        fault = FAULTS[round_number % len(FAULTS)] if round_number <= len(FAULTS) else rng.choice(FAULTS)
        played[fault] += 1
        key = f"soak-{round_number}"
        before = snapshot(db_url)
        failed: BaseException | None = None
        if fault == "storm":
            sim.admin.set_faults(schedule=STORMS[rng.choice(sorted(STORMS))], seed=round_number)
            sim.admin.configure(retry_after=rng.random() < 0.5)
            connect(max_throttle_wait=30)
        elif fault == "storm-beyond-retries":
            kind = rng.choice(["500", "504", "drop", "malformed"])
            sim.admin.set_faults(schedule=[{"kind": kind, "count": 100, "after": 1, "path": "/Deals"}])
        elif fault == "key-revoked":
            sim.admin.configure(api_key="revoked-" + api_key)
        elif fault == "wrong-answer":
            sim.admin.configure(redirect_to="http://127.0.0.1:9")  # nothing listens there
            sim.admin.set_faults(schedule=[{"kind": rng.choice(WRONG_ANSWERS), "count": 1,
                                            "after": rng.randint(0, 3), "path": rng.choice(PATHS)}])
        doomed = rng.choice(["extract_deals", "load_sales", "extract_contacts", "load_customers"])
        try:
            if fault == "worker-dies":
                def die(task: str, doomed: str = doomed) -> None:
                    if task == doomed:
                        raise WorkerDied(task)

                Pipeline(db_url, config=CONFIG, before=die).run(run_id=key)
            elif fault == "session-killed":
                with watermark_row_locked(db_url):
                    killer = _kill_session_mid_load(db_url)
                    try:
                        pipeline.run(run_id=key)
                    finally:
                        killer.join()
            else:
                pipeline.run(run_id=key)
        except (PloomesRequestError, PloomesAuthError, PloomesRedirectError, WorkerDied,
                psycopg.OperationalError) as exc:
            failed = exc
        finally:
            sim.admin.clear_faults()
            sim.admin.configure(api_key=api_key, retry_after=True)
            connect()

        if fault == "wrong-answer":  # the run may succeed or fail; the next one puts right what it got wrong
            run_ok(pipeline, db_url, sim.admin, f"{key}-next")
            continue
        if fault in ("none", "storm"):
            assert failed is None, f"round {round_number} ({fault}) failed: {failed!r}"
            assert run_status(db_url, key)["status"] == "success"
            assert_converged(db_url, sim.admin)
            continue
        assert failed is not None, f"round {round_number} ({fault}) did not fail"
        if fault != "worker-dies" or doomed in ("extract_deals", "load_sales"):
            # the run died before the deals were loaded: nothing of it may show
            assert_unchanged(db_url, before, tables=("sales",), streams=("deals",))
        run_ok(pipeline, db_url, sim.admin, f"{key}-rerun")
    assert sum(played.values()) == SOAK_RUNS

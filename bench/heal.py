"""``python -m bench.heal``: within how many runs the warehouse heals from each kind of wrong answer.

Each case starts from a warehouse equal to the simulator, makes the API give one wrong answer (or
the warehouse lose or spoil rows, as a bad earlier version would have), then runs the sync (the
DAG's task functions, :class:`ploomes_devkit.pipeline.Pipeline`) with the default configuration
until every table equals the simulator's truth again (:mod:`bench.verify`), at most 8 runs. Six
hours pass between two runs as the schedule has it: the warehouse's clock, which decides when a
listing is due, is moved back 6 hours after each run. Printed as a table and written as JSON.

Nothing is timed: what is counted is runs, and the hours they stand for at one run every 6 hours.
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg

from bench.verify import verify_warehouse
from ploomes_devkit.pipeline import Pipeline
from ploomes_devkit.postgres import admin_server, create_database, drop_database
from ploomes_simulator import RunningSimulator, SimulatorConfig, run_in_thread
from ploomes_sync.config import SyncConfig

KEY = "bench-heal-key-0000000000000000"
HOURS_PER_RUN = 6
MAX_RUNS = 8
EXTRAS = {"requests_per_minute": 600_000, "page_size": 100, "backoff_base": 0.01, "backoff_max": 0.05,
          "max_attempts": 3, "trust_env": False}


@dataclass(frozen=True)
class Case:
    """One wrong answer: what it is, and how to give it."""

    name: str
    what: str
    make: Callable[[RunningSimulator, str], None]  # (simulator, warehouse URL): give the wrong answer
    # Runs before it, 6 hours apart: 5 put it right after the daily full listing (the worst case for
    # what only a full listing finds); 4, in the run that makes the full listing.
    setup_runs: int = 5


def _fault(kind: str, path: str, after: int = 0, **settings: Any) -> Callable[[RunningSimulator, str], None]:
    def make(sim: RunningSimulator, db_url: str) -> None:
        if settings:
            sim.admin.configure(**settings)
        sim.admin.mutate(updates=250, creates=3, deletes=2, seed=11)  # enough change for three pages
        sim.admin.set_faults(schedule=[{"kind": kind, "count": 1, "after": after, "path": path}])
    return make


def _lost(sim: RunningSimulator, db_url: str) -> None:
    deals, contacts = sim.admin.truth_deals(), sim.admin.truth_contacts()
    with psycopg.connect(db_url) as conn:
        conn.execute("DELETE FROM public.sales WHERE id = ANY(%s)", [[d["Id"] for d in deals[100:110]]])
        conn.execute("DELETE FROM public.customers WHERE id = ANY(%s)", [[c["Id"] for c in contacts[10:13]]])


def _spoiled(sim: RunningSimulator, db_url: str) -> None:
    with psycopg.connect(db_url) as conn:
        conn.execute("UPDATE public.sales SET title = 'spoiled', updated_at = '2000-01-01' WHERE id = ANY(%s)",
                     [[d["Id"] for d in sim.admin.truth_deals()[200:210]]])


def _both_wrong(sim: RunningSimulator, db_url: str) -> None:
    # two wrong answers in a row: a page of the daily full listing leaves 2 contacts out (after the
    # contacts' extract), and the read by Id that should find them answers nothing
    sim.admin.set_faults(schedule=[{"kind": "partial", "count": 1, "after": 1, "path": "/Contacts"},
                                   {"kind": "empty", "count": 1, "path": "/Contacts", "filter": "Id eq"}])


CASES = (
    Case("extract page partial", "a page of the deals' extract leaves out 2 deals (and, short, ends the read)",
         _fault("partial", "/Deals", after=1)),
    Case("extract answered empty", "the deals' extract answers no record and a count of 0",
         _fault("empty", "/Deals")),
    Case("listing answered empty", "the products' count listing answers no record and a count of 0",
         _fault("empty", "/Products", after=1)),
    Case("listing page partial", "the contacts' listing leaves 2 contacts out of a page", _fault("partial", "/Contacts",
                                                                                                after=1)),
    Case("redirect elsewhere", "a deals request is redirected to another host", _fault("redirect", "/Deals")),
    Case("rows lost", "10 deals and 3 contacts missing from the warehouse (an earlier version deleted them)", _lost),
    Case("rows spoiled", "10 deals in another version than Ploomes' (edited by hand, updated_at moved back)",
         _spoiled),
    Case("two answers wrong", "a page of the full listing leaves 2 contacts out, and the read by Id after it "
         "answers nothing", _both_wrong, setup_runs=4),
)


def equal(db_url: str, sim: RunningSimulator) -> bool:
    """Whether every table equals the simulator's truth: every contract column of deals, contacts and
    customer_sales (computed apart from the sync, as the tests do), and the price history's tables."""
    from tests.support.truth import assert_warehouse_equals_simulator

    try:
        with psycopg.connect(db_url) as conn:
            assert_warehouse_equals_simulator(conn, sim.admin)
    except AssertionError:
        return False
    return bool(verify_warehouse(db_url, sim.admin)["matched"])


def _pass_six_hours(db_url: str) -> None:
    """As if the schedule's 6 hours went by: the warehouse's record of when listings ran moves back."""
    with psycopg.connect(db_url) as conn:
        conn.execute("UPDATE ploomes_sync.listings SET started_wh = started_wh - %s * interval '1 hour'",
                     [HOURS_PER_RUN])


def measure(case: Case, admin_url: str, deals: int) -> dict[str, Any]:
    """Runs until the warehouse equals the truth after ``case``'s wrong answer."""
    config = SimulatorConfig(deals=deals, contacts=max(60, deals // 15), seed=21, api_key=KEY, rate_limit=0)
    db_url = create_database(admin_url, "ploomes_heal")
    try:
        with run_in_thread(config) as sim:
            os.environ["AIRFLOW_CONN_PLOOMES_DEFAULT"] = json.dumps(
                {"conn_type": "ploomes", "host": sim.url, "password": KEY, "extra": EXTRAS})
            pipeline = Pipeline(db_url, config=SyncConfig())
            for _ in range(case.setup_runs):  # the first run is full; the daily full listing comes every 4th
                pipeline.run()
                _pass_six_hours(db_url)
            assert equal(db_url, sim), "not equal before the wrong answer"
            case.make(sim, db_url)
            outcomes = []
            for run in range(1, MAX_RUNS + 1):
                try:
                    done = pipeline.run()
                    reconciled = done.results.get("reconcile_deletions") or {}
                    changed = {name: {k: v for k, v in counts.items() if k in ("deleted", "repaired") and v}
                               for name, counts in reconciled.items()}
                    outcomes.append(f"{done.status} {' '.join(f'{n} {c}' for n, c in changed.items() if c)}".strip())
                except Exception as exc:  # noqa: BLE001 - a run the wrong answer failed: the next one follows
                    outcomes.append(f"failed ({type(exc).__name__})")
                sim.admin.clear_faults()
                _pass_six_hours(db_url)
                if equal(db_url, sim):
                    return {"case": case.name, "what": case.what, "runs": run,
                            "hours": (run - 1) * HOURS_PER_RUN, "outcomes": outcomes}
            return {"case": case.name, "what": case.what, "runs": None, "hours": None, "outcomes": outcomes}
    finally:
        drop_database(admin_url, db_url)


def render(results: list[dict[str, Any]]) -> str:
    """``runs``: the run that met the wrong answer is the first; ``hours``: how long after that run's
    the warehouse was equal again (0: at that run's end)."""
    lines = [f"{'case':<24} {'runs':>4} {'hours':>5}  what (each run's outcome)"]
    for result in results:
        runs = "never" if result["runs"] is None else str(result["runs"])
        hours = "-" if result["hours"] is None else str(result["hours"])
        lines.append(f"{result['case']:<24} {runs:>4} {hours:>5}  {result['what']} ({', '.join(result['outcomes'])})")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.heal", description=__doc__.splitlines()[0])
    parser.add_argument("--deals", type=int, default=3000, help="deals in the simulator (default 3000)")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results" / "heal.json")
    parser.add_argument("--db-url", default=None, help="admin URL of the PostgreSQL server")
    args = parser.parse_args(argv)
    with admin_server(args.db_url) as admin_url:
        results = [measure(case, admin_url, args.deals) for case in CASES]
    print(render(results))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"deals": args.deals, "hours_per_run": HOURS_PER_RUN, "cases": results}, indent=1))
    return 0 if all(result["runs"] is not None for result in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())

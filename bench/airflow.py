"""What a user sees in a real Airflow (``python -m bench.airflow``; ``make bench-airflow``).

``make bench`` drives the tasks' functions; this drives the DAG in Airflow 3 itself (standalone:
scheduler, DAG processor, triggerer, API server, LocalExecutor; metadata in PostgreSQL; pool
``ploomes_api`` of 3 slots) against the simulator as a separate process, and prints what each
figure measures:

- ``backfill``: a warehouse missing a year. The Trigger form's date range for the year (one run),
  then Airflow's backfill of the same year (four runs a day): API requests, wall time from the
  request that creates the backfill to its completion, runs per state, and whether the warehouse
  equals Ploomes after each (rows edited by hand before each must be restored).
- ``overhead``: the full sync at the account's 120 requests a minute and 1 s of latency, DAG run
  against the API floor (every page of every stream at 2 a second), then a 6-hourly run on the
  up-to-date warehouse (its duration, and ``plan_run``'s, migrations included).
- ``webhooks``: freshness, as the issue that asked for it measured it: deals changed one at a time
  4 s apart, each delivered 50 ms after the change, the sync paused; three rounds (20, 20 and 40
  changes), then 3 changes 25 s apart (each after the applier's task ended). Seconds from the
  change to ``public.sales`` showing it.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections import Counter
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from bench.verify import verify_warehouse
from ploomes_devkit.postgres import admin_server
from tests.support.airflow_stack import DAG_ID, E2EStack, airflow_stack
from tests.support.freshness import APPLY, figures, measure_freshness, start_webhooks
from tests.support.truth import make_stale

SAO_PAULO = ZoneInfo("America/Sao_Paulo")
DAY_TIMEOUT = 3 * 3600.0


def _moment(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None


def _run_seconds(run: dict[str, Any]) -> float:
    """A DAG run's duration as Airflow records it (its start to its end)."""
    return (_moment(run["end_date"]) - _moment(run["start_date"])).total_seconds()


def _sao_paulo_year(deal: dict[str, Any]) -> int:
    return datetime.fromisoformat(deal["CreateDate"]).astimezone(SAO_PAULO).year


def _deface(stack: E2EStack, ids: list[int]) -> None:
    with stack.connect() as conn:
        make_stale(conn, ids)


def _equal_to_ploomes(stack: E2EStack) -> dict[str, Any]:
    """The bench's own comparison with the simulator's truth (:func:`bench.verify.verify_warehouse`),
    and every deal's title (what :func:`_deface` changed)."""
    verified = verify_warehouse(stack.db_url, stack.sim.admin)
    truth = {deal["Id"]: deal["Title"] for deal in stack.sim.admin.truth_deals()}
    with stack.connect() as conn:
        rows = dict(conn.execute("SELECT id, title FROM public.sales").fetchall())
    titles_differ = len(set(truth.items()) ^ set(rows.items()))
    return {"equal": verified["matched"] and not titles_differ, "rows": len(rows), "ploomes": len(truth),
            "titles_differing": titles_differ, "problems": verified["problems"][:10]}


def backfill(stack: E2EStack, year: int, max_active_runs: int, progress) -> dict[str, Any]:
    """The date-range run of ``year``, then Airflow's backfill of it; both from a defaced warehouse."""
    first = stack.trigger_and_wait(timeout=DAY_TIMEOUT)
    assert first["state"] == "success", stack.explain(first["dag_run_id"])
    in_year = [deal["Id"] for deal in stack.sim.admin.truth_deals() if _sao_paulo_year(deal) == year]
    progress(f"first run done; {len(in_year)} deals created in {year} (São Paulo)")

    _deface(stack, in_year)
    stack.sim.admin.clear_requests()
    began = time.monotonic()
    by_range = stack.trigger_and_wait({"from_date": f"{year}-01-01", "to_date": f"{year}-12-31"}, timeout=DAY_TIMEOUT)
    range_wall = time.monotonic() - began
    range_row = {"state": by_range["state"], "requests": len(stack.sim.admin.requests()),
                 "run_seconds": _run_seconds(by_range), "wall_seconds": range_wall, **_equal_to_ploomes(stack)}
    progress(f"date-range run: {range_row}")

    _deface(stack, in_year)
    stack.sim.admin.clear_requests()
    start = datetime(year, 1, 1, tzinfo=SAO_PAULO)
    last = datetime(year, 12, 31, 18, tzinfo=SAO_PAULO)  # the last 6-hourly logical date of the year
    began = time.monotonic()
    created = stack.api.create_backfill(DAG_ID, start, last, max_active_runs=max_active_runs)
    create_seconds = time.monotonic() - began
    progress(f"backfill {created['id']} created in {create_seconds:.1f} s")
    stack.api.wait_for_backfill(created["id"], timeout=DAY_TIMEOUT, poll=10.0, alive=stack.alive)
    wall = time.monotonic() - began
    runs = stack.api.list_dag_runs(DAG_ID, run_type="backfill")
    with stack.connect() as conn:
        history = conn.execute("SELECT run_id, mode, status, window_start, window_end, api_requests "
                               "FROM ploomes_sync.run_history WHERE run_type = 'backfill'").fetchall()
    spans = sorted(_run_seconds(run) for run in runs if run["end_date"])
    row = {
        "runs": len(runs), "states": dict(Counter(run["state"] for run in runs)),
        "requests": len(stack.sim.admin.requests()), "create_seconds": create_seconds, "wall_seconds": wall,
        "runs_per_minute": len(runs) / (wall / 60), "median_run_seconds": spans[len(spans) // 2] if spans else None,
        "history_rows": [{"run_id": r[0], "mode": r[1], "status": r[2], "window": [str(r[3]), str(r[4])],
                          "api_requests": r[5]} for r in history],
        **_equal_to_ploomes(stack),
    }
    progress(f"backfill: {row}")
    return {"deals": stack.sim.deals, "year": year, "deals_in_year": len(in_year), "max_active_runs": max_active_runs,
            "date_range_run": range_row, "backfill": row,
            "requests_ratio": row["requests"] / range_row["requests"] if range_row["requests"] else None}


def _task_seconds(stack: E2EStack, run_id: str) -> dict[str, float]:
    return {ti["task_id"]: ti["duration"] for ti in stack.api.task_instances(DAG_ID, run_id)
            if ti.get("duration") is not None}


def overhead(stack: E2EStack, latency: float, progress) -> dict[str, Any]:
    """The full sync at 120 requests a minute and ``latency`` seconds, against the API floor; then a
    6-hourly (incremental) run on the up-to-date warehouse."""
    stack.sim.admin.configure(rate_limit=120, latency_seconds=latency)
    stack.sim.admin.clear_requests()
    full = stack.trigger_and_wait(timeout=DAY_TIMEOUT)
    assert full["state"] == "success", stack.explain(full["dag_run_id"])
    pages = len(stack.sim.admin.requests())
    floor = pages / 2.0  # every request at the account's 2 a second
    full_row = {"requests": pages, "floor_seconds": floor, "run_seconds": _run_seconds(full),
                "ratio": _run_seconds(full) / floor, "tasks": _task_seconds(stack, full["dag_run_id"])}
    progress(f"full sync: {full_row}")
    stack.sim.admin.clear_requests()
    incremental = stack.trigger_and_wait(timeout=DAY_TIMEOUT)
    assert incremental["state"] == "success", stack.explain(incremental["dag_run_id"])
    inc_row = {"requests": len(stack.sim.admin.requests()), "run_seconds": _run_seconds(incremental),
               "tasks": _task_seconds(stack, incremental["dag_run_id"])}
    progress(f"6-hourly run: {inc_row}")
    return {"deals": stack.sim.deals, "latency_seconds": latency, "full_sync": full_row, "six_hourly_run": inc_row}


def webhooks(stack: E2EStack, progress) -> dict[str, Any]:
    """Webhook freshness in rounds of changes 4 s apart, then changes 25 s apart."""
    start_webhooks(stack)
    deals = iter(stack.sim.admin.truth_deals()[40:])
    first = measure_freshness(stack, [next(deals)], 1.0)  # the watcher starts when its DAG is next parsed
    progress(f"first change after the applier was unpaused: {first[0]:.1f} s")
    rounds = []
    for size in (20, 20, 40):
        rounds.append(figures(measure_freshness(stack, [next(deals) for _ in range(size)], 4.0), 4.0))
        progress(f"{size} changes 4 s apart: p50 {rounds[-1]['p50']} s, p95 {rounds[-1]['p95']} s, "
                 f"max {rounds[-1]['max']} s")
    apart = figures(measure_freshness(stack, [next(deals) for _ in range(3)], 25.0), 25.0)
    progress(f"3 changes 25 s apart: max {apart['max']} s")
    return {"deals": stack.sim.deals, "first_change_seconds": round(first[0], 2), "rounds_4s_apart": rounds,
            "changes_25s_apart": apart, "applier_runs": len(stack.api.list_dag_runs(APPLY))}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.airflow", description=__doc__.splitlines()[0])
    parser.add_argument("scenario", choices=("backfill", "overhead", "webhooks"))
    parser.add_argument("--deals", type=int, default=None,
                        help="deals in Ploomes (backfill 6000, overhead 30000, webhooks 300)")
    parser.add_argument("--year", type=int, default=2024, help="the backfill's year (São Paulo)")
    parser.add_argument("--max-active-runs", type=int, default=10, help="the backfill's (the UI's default: 10)")
    parser.add_argument("--latency", type=float, default=1.0, help="seconds the API takes to answer (overhead)")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results")
    parser.add_argument("--db-url", default=None, help="admin URL of the PostgreSQL server")
    args = parser.parse_args(argv)
    began = time.monotonic()

    def progress(message: str) -> None:
        print(f"[{time.monotonic() - began:7.1f}s] {message}", flush=True)

    deals = args.deals or {"backfill": 6_000, "overhead": 30_000, "webhooks": 300}[args.scenario]
    with admin_server(args.db_url) as admin_url, tempfile.TemporaryDirectory(prefix="ploomes-bench-af-") as home, \
            airflow_stack(admin_url, Path(home), deals=deals, contacts=max(deals // 10, 30),
                          requests_per_minute=120 if args.scenario == "overhead" else 6000,
                          use_schedule=args.scenario == "webhooks") as stack:
        progress(f"Airflow up ({stack.airflow.url}), simulator with {deals:,} deals")
        if args.scenario == "backfill":
            result = backfill(stack, args.year, args.max_active_runs, progress)
        elif args.scenario == "overhead":
            result = overhead(stack, args.latency, progress)
        else:
            result = webhooks(stack, progress)
    result = {"scenario": args.scenario, "measured_on": date.today().isoformat(),
              "what": "a real Airflow 3 (standalone, LocalExecutor, PostgreSQL metadata), pool ploomes_api of 3",
              **result}
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"airflow-{args.scenario}-{datetime.now().strftime('%Y%m%dT%H%M%S')}.json"
    path.write_text(json.dumps(result, indent=2, default=str))
    print(json.dumps(result, indent=2, default=str))
    print(f"\nJSON: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Command line of ``python -m bench`` (``make bench``; options through ``BENCH_ARGS``)."""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime
from pathlib import Path

from bench import report
from bench.plan import BenchPlan
from bench.runner import BenchRunner
from ploomes_devkit.postgres import admin_server

DEFAULT_OUT = Path(__file__).resolve().parent / "results"


def _sizes(text: str) -> tuple[int, ...]:
    try:
        sizes = tuple(int(part.replace("_", "")) for part in text.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"--sizes takes deal counts separated by commas, got {text!r}") from None
    if not sizes or min(sizes) < 1:
        raise argparse.ArgumentTypeError(f"--sizes needs positive deal counts, got {text!r}")
    return sizes


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Measure the sync against the Ploomes simulator and a real PostgreSQL; print a table and "
                    "write the numbers as JSON.",
    )
    parser.add_argument("--sizes", type=_sizes, default=None,
                        help="deals of each unlimited full sync (default 30000,300000; tiny: 600)")
    parser.add_argument("--reference", type=int, default=None,
                        help="deals of the rate-limited and old-cron scenarios (default 30000)")
    parser.add_argument("--tiny", "--quick", dest="tiny", action="store_true",
                        help="600 deals, rate and pause scaled by 10: seconds in all (what make test runs)")
    parser.add_argument("--latencies", type=lambda text: tuple(float(v) for v in text.split(",")), default=None,
                        help="seconds the API takes to answer, one rate-limited full sync each (default 0,0.5,1,2)")
    parser.add_argument("--skip-reader-features", action="store_true",
                        help="leave out the runs without each reader refinement (4 rate-limited syncs)")
    parser.add_argument("--skip-baseline", action="store_true", help="leave out the old cron (5+ minutes at 30,000)")
    parser.add_argument("--repeat", type=int, default=None,
                        help="run each unlimited full sync N times (fresh database each) and report the fastest")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT,
                        help="directory of bench-<timestamp>.json, latest.json and the logs (default bench/results)")
    parser.add_argument("--db-url", default=None,
                        help="admin URL of the PostgreSQL server (default: 127.0.0.1:5432, else a throwaway one)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    plan = (BenchPlan.tiny() if args.tiny else BenchPlan.default()).with_options(
        sizes=args.sizes, reference_deals=args.reference, run_baseline=False if args.skip_baseline else None,
        repeat=args.repeat, latencies=args.latencies, features=False if args.skip_reader_features else None)
    started_at, began = datetime.now(UTC), time.monotonic()

    def progress(message: str) -> None:
        print(f"[{time.monotonic() - began:6.1f}s] {message}", flush=True)

    log_dir = args.out / "logs" / started_at.strftime("%Y%m%dT%H%M%SZ")
    with admin_server(args.db_url) as admin_url:
        host = report.machine(admin_url)
        progress(f"plan {plan.preset}: sizes {list(plan.sizes)}, reference {plan.reference_deals:,} deals; "
                 f"PostgreSQL {host['postgres']}, {host['cpus']} CPUs; logs in {log_dir}")
        scenarios = BenchRunner(plan, admin_url, log_dir, progress).run()
    result = report.build(plan, scenarios, started_at, host)
    print()
    print(report.render(result))
    paths = report.write(result, args.out)
    print(f"\nJSON: {', '.join(str(path) for path in paths)}")
    failed = [e["name"] for e in scenarios if "error" in e or not (e.get("verified") or {"matched": True})["matched"]]
    if failed:
        print(f"FAILED or wrong: {failed}")
        return 1
    return 0

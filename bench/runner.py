"""The parent: one simulator process per data size, one fresh database and one worker per scenario.

Order, for each size: the full sync with no limit; then, on its warehouse, three 6-hourly runs
after 300 updates, 6 creations and 5 deletions each: one that finds deletions by ``$count`` (the
usual run), one that lists every record (the daily full listing), and one against an API that does
not answer ``$count`` (it lists every record, paced). For the reference size then: the full sync at
120 requests a minute with the API answering after each latency of the plan (and without each of
the reader's refinements at some of them), the freshness of
changes delivered by webhook, and the old cron.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil

from bench.plan import BenchPlan, Latency, contacts_for, pages
from bench.verify import verify_warehouse
from bench.worker import API_KEY_ENV
from ploomes_devkit.postgres import create_database, drop_database
from ploomes_devkit.simulator_process import SimulatorProcess

ROOT = Path(__file__).resolve().parents[1]
UNLIMITED_REQUESTS_PER_MINUTE = 1_000_000  # the hook's limiter still runs, 60 µs apart: in effect off
WORKER_TIMEOUT_SECONDS = 3600.0
LOG_TAIL_LINES = 25
# The three 6-hourly runs: (name, config, whether the simulator answers $count)
SIX_HOURLY = (
    ("6-hourly run, $count answered", {}, True),
    ("daily full listing", {"full_listing_every_hours": 0}, True),
    ("6-hourly run, no $count", {}, False),
)

Progress = Callable[[str], None]


class BenchRunner:
    """Runs a :class:`BenchPlan` against the PostgreSQL server at ``admin_url``."""

    def __init__(self, plan: BenchPlan, admin_url: str, log_dir: Path, progress: Progress) -> None:
        self.plan = plan
        self.admin_url = admin_url
        self.log_dir = log_dir
        self.progress = progress
        self.api_key = f"bench-{secrets.token_hex(16)}"
        self.airflow_home = Path(tempfile.mkdtemp(prefix="ploomes-bench-airflow-"))
        self.scenarios: list[dict[str, Any]] = []
        self.workers = 0  # numbers the logs of the workers, repeats included

    def run(self) -> list[dict[str, Any]]:
        """Every scenario of the plan; a failed one is recorded with its error and the rest still run."""
        self.log_dir.mkdir(parents=True, exist_ok=True)
        for deals in self.plan.all_sizes:
            contacts = contacts_for(deals)
            self.progress(f"simulator: generating {deals:,} deals and {contacts:,} contacts")
            with SimulatorProcess(deals=deals, contacts=contacts, seed=self.plan.seed, api_key=self.api_key,
                                  rate_limit=0, log_path=self.log_dir / f"simulator-{deals}.log") as sim:
                self._size(sim, deals, contacts)
        return self.scenarios

    def _size(self, sim: SimulatorProcess, deals: int, contacts: int) -> None:
        plan = self.plan
        unlimited = UNLIMITED_REQUESTS_PER_MINUTE
        name = f"full sync, no rate limit, {deals:,} deals"
        first = len(self.scenarios)
        for attempt in range(1, plan.repeat + 1):
            with self._database() as db_url:
                self._scenario(sim, db_url, "full", name, deals, contacts, unlimited)
                if attempt < plan.repeat:
                    continue
                self._keep_fastest(first, name)
                updates, creates, deletes = plan.changes
                orders, prices, gone = plan.commerce_changes
                for number, (label, config, count) in enumerate(SIX_HOURLY, start=1):
                    sim.admin.configure(count_supported=count)
                    try:
                        self._scenario(sim, db_url, "six_hourly",
                                       f"{label} ({updates} updated, {creates} created, {deletes} deleted; "
                                       f"{orders} new orders, {prices} prices, {gone} deletions of each commerce "
                                       f"stream), {deals:,} deals", deals, contacts, unlimited,
                                       changes=list(plan.changes), commerce_changes=list(plan.commerce_changes),
                                       seed=number, config=config, count_supported=count)
                    finally:
                        sim.admin.configure(count_supported=True)
        if deals != plan.reference_deals:
            return
        sim.admin.configure(rate_limit=plan.requests_per_minute)
        try:
            for latency, without in plan.latency_runs:
                sim.admin.configure(**latency.simulator())
                try:
                    with self._database() as db_url:
                        self._scenario(sim, db_url, "latency",
                                       f"full sync at {plan.requests_per_minute}/min, answers after {latency.label}"
                                       + (f", reader without {without}" if without else "") + f", {deals:,} deals",
                                       deals, contacts, plan.requests_per_minute, latency=latency.seconds,
                                       latency_label=latency.label, without=without, measure_reading=True)
                finally:
                    sim.admin.configure(**Latency(0.0).simulator())
            if plan.run_baseline:
                with self._database() as db_url:
                    self._scenario(sim, db_url, "baseline",
                                   f"old cron: {plan.old_page_size}/page, {plan.old_pause_seconds:g} s pause, "
                                   f"row upserts, {deals:,} deals", deals, contacts, plan.requests_per_minute,
                                   page_size=plan.old_page_size, pause_seconds=plan.old_pause_seconds)
            self._webhooks(sim, deals, contacts)  # last: its changes alter the simulator's data
        finally:
            sim.admin.configure(rate_limit=0)

    def _webhooks(self, sim: SimulatorProcess, deals: int, contacts: int) -> None:
        """Freshness by webhook (the scenario sets the rate, the latency and the deliveries itself)."""
        plan = self.plan
        try:
            with self._database() as db_url:
                self._scenario(sim, db_url, "webhooks",
                               f"webhooks: {plan.webhook_changes} changes {plan.webhook_change_interval:g} s apart, "
                               f"{plan.requests_per_minute}/min, answers after {plan.webhook_latency:g} s, "
                               f"{deals:,} deals", deals, contacts, plan.requests_per_minute,
                               latency=plan.webhook_latency, delivery_delay=plan.webhook_delivery_delay,
                               changes_count=plan.webhook_changes, change_interval=plan.webhook_change_interval,
                               timeout=plan.webhook_changes * plan.webhook_change_interval + 300, seed=plan.seed)
        finally:
            sim.admin.clear_webhooks()
            sim.admin.configure(rate_limit=plan.requests_per_minute, latency_seconds=0.0, webhook_delay_seconds=0.0,
                                webhook_shuffle=False)

    def _keep_fastest(self, first: int, name: str) -> None:
        """Of the repeats of one scenario (from ``first`` on), keep the fastest, with the highest peak RSS
        of all and every wall time, so one burst of other work on the machine does not decide the number."""
        runs = self.scenarios[first:]
        done = [entry for entry in runs if "error" not in entry]
        if len(runs) < 2 or not done:
            return
        kept = dict(min(done, key=lambda entry: entry["wall_seconds"]))
        kept["name"] = f"{name} (fastest of {len(runs)})"
        kept["peak_rss_mb"] = max(entry["peak_rss_mb"] for entry in done)
        kept["repeats"] = [{key: entry.get(key) for key in ("wall_seconds", "deals_per_second", "worker_cpu_seconds",
                                                             "simulator_cpu_seconds", "peak_rss_mb", "error")}
                           for entry in runs]
        self.scenarios[first:] = [kept]

    def _database(self) -> _Database:
        return _Database(self.admin_url)

    def _scenario(self, sim: SimulatorProcess, db_url: str, kind: str, name: str, deals: int, contacts: int,
                  requests_per_minute: float, **extra: Any) -> None:
        spec = {"kind": kind, "name": name, "deals": deals, "contacts": contacts, "sim_url": sim.url,
                "db_url": db_url, "requests_per_minute": requests_per_minute, **extra}
        self.progress(f"{name}: running")
        counts = sim.admin.health()  # what the floor counts pages of, as the scenario begins
        entry: dict[str, Any] = {"kind": kind, "name": name, "deals": deals, "contacts": contacts,
                                 "commerce": {name: counts[name] for name in ("products", "quotes", "orders")},
                                 "vocabulary": counts["vocabulary"],
                                 "requests_per_minute": None if requests_per_minute == UNLIMITED_REQUESTS_PER_MINUTE
                                 else requests_per_minute, **extra}
        simulator = psutil.Process(sim.process.pid) if sim.process is not None else None
        cpu_before = _cpu_seconds(simulator)
        self.workers += 1
        entry.update(self._worker(spec, f"{self.workers:02d}-{kind}-{deals}"))
        if "error" not in entry and "skipped" not in entry:
            # CPU seconds hardly move when other work shares the machine, unlike wall time
            entry["simulator_cpu_seconds"] = _cpu_seconds(simulator) - cpu_before
            entry["simulator_rss_mb"] = simulator.memory_info().rss / 2**20 if simulator is not None else None
            entry["verified"] = verify_warehouse(db_url, sim.admin, commerce=kind != "baseline")
            if kind in ("latency", "baseline"):
                self._against_floor(entry)
        self.scenarios.append(entry)
        self.progress(summary(entry))

    def _against_floor(self, entry: dict[str, Any]) -> None:
        """Times against the floor (one request per 300 records of each stream at the rate): the
        reading's span (first request to last answer of the extracts) and the whole run's wall time."""
        plan = self.plan
        records = [entry["deals"], entry["contacts"]]
        if entry["kind"] != "baseline":  # the old cron read deals and contacts only
            records += entry["commerce"].values()
        floor = plan.floor_seconds(*records)
        entry["floor_requests"] = sum(map(pages, records))
        entry["floor_seconds"] = floor
        entry["wall_vs_floor"] = entry["wall_seconds"] / floor
        reading = entry.get("reading")
        if reading:
            entry["reading_vs_floor"] = reading["seconds"] / floor

    def _worker(self, spec: dict[str, Any], label: str) -> dict[str, Any]:
        """Run ``python -m bench.worker`` for ``spec``; its result, or ``{"error": ...}`` with the log's end."""
        spec_path = self.log_dir / f"{label}.spec.json"
        result_path = self.log_dir / f"{label}.result.json"
        log_path = self.log_dir / f"{label}.log"
        spec_path.write_text(json.dumps(spec, indent=2))
        result_path.unlink(missing_ok=True)
        env = {**os.environ, API_KEY_ENV: self.api_key, "AIRFLOW_HOME": str(self.airflow_home),
               "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
               "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
        with log_path.open("wb") as log:
            try:
                completed = subprocess.run(
                    [sys.executable, "-m", "bench.worker", str(spec_path), str(result_path)], cwd=ROOT, env=env,
                    stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, timeout=WORKER_TIMEOUT_SECONDS,
                    check=False,
                )
            except subprocess.TimeoutExpired:
                return {"error": f"the worker ran over {WORKER_TIMEOUT_SECONDS:.0f} s (log: {log_path})"}
        if completed.returncode != 0 or not result_path.exists():
            tail = "\n".join(log_path.read_text(errors="replace").splitlines()[-LOG_TAIL_LINES:])
            return {"error": f"the worker exited with code {completed.returncode} (log: {log_path}):\n{tail}"}
        result = json.loads(result_path.read_text())
        result["log"] = str(log_path)
        return result


def _cpu_seconds(process: psutil.Process | None) -> float:
    if process is None:
        return 0.0
    times = process.cpu_times()
    return times.user + times.system


class _Database:
    """A fresh database on the server, dropped on exit."""

    def __init__(self, admin_url: str) -> None:
        self.admin_url = admin_url
        self.url: str | None = None

    def __enter__(self) -> str:
        self.url = create_database(self.admin_url, prefix="ploomes_bench")
        return self.url

    def __exit__(self, *exc: object) -> None:
        if self.url is not None:
            drop_database(self.admin_url, self.url)


def summary(entry: dict[str, Any]) -> str:
    """One line about a finished scenario."""
    if "error" in entry:
        return f"{entry['name']}: FAILED: {entry['error']}"
    if "skipped" in entry:
        return f"{entry['name']}: skipped: {entry['skipped']}"
    verified = entry.get("verified") or {}
    truth = "warehouse matches truth" if verified.get("matched") else f"MISMATCH {verified.get('problems')}"
    if entry["kind"] == "webhooks":
        fresh = entry["freshness"]
        return (f"{entry['name']}: {entry['changes']} changes landed, p50 {fresh['p50']:.1f} s, "
                f"p95 {fresh['p95']:.1f} s, max {fresh['max']:.1f} s; {entry['applies']} applies, "
                f"{entry['api']['requests']} requests, {truth}")
    return (f"{entry['name']}: {entry['wall_seconds']:.2f} s, {entry['deals_per_second']:,.0f} deals/s, "
            f"{entry['api']['requests']} requests, peak RSS {entry['peak_rss_mb']:.0f} MB, {truth}")

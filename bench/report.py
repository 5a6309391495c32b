"""The numbers as tables on the terminal and as JSON, with each target met or missed.

Targets: the full sync at the account's rate within 5% of the floor whatever the latency (its
reading, first request to last answer of the extracts); a 6-hourly run after 300 updates, 6
creations and 5 deletions at 30,000 deals in at most 45 requests where ``$count`` is answered, the
warehouse equal to the truth after it; peak memory flat in the data's size. The full syncs with no
limit are a regression guard, not a target: at 120 requests a minute the API caps production at
600 deals a second.
"""

from __future__ import annotations

import json
import os
import platform
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg

from bench.plan import RUNS_PER_DAY, BenchPlan

TARGET_PEAK_RSS_MB = 300
TARGET_RSS_GROWTH = 1.20  # largest size against smallest
TARGET_FLOOR_RATIO = 1.05
TARGET_SIX_HOURLY_REQUESTS = 70  # at 30,000 deals with the commerce streams and the vocabulary, $count answered
TARGET_SIX_HOURLY_DEALS = 30_000
TARGET_WEBHOOK_P95_SECONDS = 30.0  # from a change in Ploomes to the warehouse


def machine(admin_url: str) -> dict[str, Any]:
    """Where the numbers come from."""
    with psycopg.connect(admin_url) as conn:
        server = conn.execute("SHOW server_version").fetchone()[0]
    return {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
            "postgres": server, "load_average": list(os.getloadavg())}


def _ok(entry: dict[str, Any]) -> bool:
    return "error" not in entry and "skipped" not in entry


def _task(entry: dict[str, Any], task: str) -> dict[str, Any]:
    return next(row for row in entry["tasks"] if row["task"] == task)


def _target(name: str, goal: str, measured: str, met: bool, note: str = "") -> dict[str, Any]:
    return {"target": name, "goal": goal, "measured": measured, "met": met, "note": note}


def _shortfall(measured: float, goal: float) -> str:
    return f"{(goal - measured) / goal:.0%} short" if measured < goal else ""


def _excess(measured: float, goal: float) -> str:
    return f"{(measured - goal) / goal:.0%} over" if measured > goal else ""


def targets(scenarios: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each target against what was measured (only for scenarios that ran)."""
    found: list[dict[str, Any]] = []
    full = sorted((e for e in scenarios if e["kind"] == "full" and _ok(e)), key=lambda e: e["deals"])
    if full:
        largest, smallest = full[-1], full[0]
        peak = largest["peak_rss_mb"]
        found.append(_target(f"peak RSS at {largest['deals']:,}", f"< {TARGET_PEAK_RSS_MB} MB", f"{peak:.0f} MB",
                             peak < TARGET_PEAK_RSS_MB, _excess(peak, TARGET_PEAK_RSS_MB)))
        if largest is not smallest:
            growth = peak / smallest["peak_rss_mb"]
            found.append(_target(f"peak RSS {largest['deals']:,} vs {smallest['deals']:,}",
                                 f"<= +{TARGET_RSS_GROWTH - 1:.0%}", f"{growth - 1:+.1%}", growth <= TARGET_RSS_GROWTH))
    for entry in (e for e in scenarios if e["kind"] == "latency" and _ok(e) and e.get("reading")
                  and not e.get("without")):
        ratio = entry["reading_vs_floor"]
        found.append(_target(
            f"full sync of {entry['deals']:,} at {entry['requests_per_minute']:g}/min, latency {_latency(entry)}",
            f"reading <= floor +{TARGET_FLOOR_RATIO - 1:.0%} ({entry['floor_seconds']:.1f} s)",
            f"{entry['reading']['seconds']:.1f} s ({ratio - 1:+.1%})", ratio <= TARGET_FLOOR_RATIO,
            f"{entry['reading']['requests']} reads for {entry['floor_requests']} pages, up to "
            f"{entry['reading']['max_in_flight']} in flight; whole run {entry['wall_seconds']:.1f} s"))
    for entry in (e for e in scenarios if e["kind"] == "six_hourly" and _ok(e)
                  and e.get("count_supported") and not e.get("config")):
        requests, matched = entry["api"]["requests"], (entry.get("verified") or {}).get("matched", False)
        goal = TARGET_SIX_HOURLY_REQUESTS if entry["deals"] == TARGET_SIX_HOURLY_DEALS else None
        found.append(_target(f"6-hourly run at {entry['deals']:,} deals, $count answered",
                             f"<= {goal} requests, converged" if goal else "converged (requests reported)",
                             f"{requests} requests, {'equal to the truth' if matched else 'NOT equal to the truth'}",
                             matched and (goal is None or requests <= goal)))
    for entry in (e for e in scenarios if e["kind"] == "webhooks" and _ok(e)):
        fresh, matched = entry["freshness"], (entry.get("verified") or {}).get("matched", False)
        found.append(_target(f"webhook freshness, {entry['changes']} changes at {entry['requests_per_minute']:g}/min",
                             f"p95 < {TARGET_WEBHOOK_P95_SECONDS:g} s, converged",
                             f"p95 {fresh['p95']:.1f} s (p50 {fresh['p50']:.1f}, max {fresh['max']:.1f}), "
                             f"{'equal to the truth' if matched else 'NOT equal to the truth'}",
                             matched and fresh["p95"] < TARGET_WEBHOOK_P95_SECONDS,
                             f"{entry['applies']} applies, {entry['api']['requests']} API requests"))
    return found


def per_day(scenarios: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Requests a day per size, 4 runs a day: with $count, 3 counted runs and the daily full listing;
    without, every run lists every record."""
    rows = []
    for deals in sorted({e["deals"] for e in scenarios if e["kind"] == "six_hourly"}):
        runs = {e["name"].split(" (")[0]: e for e in scenarios
                if e["kind"] == "six_hourly" and e["deals"] == deals and _ok(e)}
        counted, daily, uncounted = (runs.get(name) for name in (
            "6-hourly run, $count answered", "daily full listing", "6-hourly run, no $count"))
        row: dict[str, Any] = {"deals": deals}
        if counted and daily:
            row["with_count_run"] = counted["api"]["requests"]
            row["with_count_daily_listing"] = daily["api"]["requests"]
            row["with_count_day"] = (RUNS_PER_DAY - 1) * counted["api"]["requests"] + daily["api"]["requests"]
        if uncounted:
            row["without_count_run"] = uncounted["api"]["requests"]
            row["without_count_day"] = RUNS_PER_DAY * uncounted["api"]["requests"]
        rows.append(row)
    return rows


def _latency(entry: dict[str, Any]) -> str:
    return entry.get("latency_label") or f"{entry['latency']:g} s"


def comparison(scenarios: list[dict[str, Any]]) -> dict[str, Any]:
    """The old cron against the sync on the same data (ratios above 1: the sync is faster)."""
    old = next((e for e in scenarios if e["kind"] == "baseline" and _ok(e)), None)
    if old is None:
        return {}
    out: dict[str, Any] = {"old_cron_seconds": old["wall_seconds"], "old_cron_requests": old["api"]["requests"]}
    candidates = (("at_same_rate_limit", [e for e in scenarios if e["kind"] == "latency" and not e.get("latency")
                                          and not e.get("without")]),
                  ("no_rate_limit", [e for e in scenarios if e["kind"] == "full"]))
    for key, entries in candidates:
        new = next((e for e in entries if e["deals"] == old["deals"] and _ok(e)), None)
        if new is not None:
            out[key] = {"sync_seconds": new["wall_seconds"], "sync_requests": new["api"]["requests"],
                        "time_ratio": old["wall_seconds"] / new["wall_seconds"],
                        "request_ratio": old["api"]["requests"] / new["api"]["requests"]}
    return out


def build(plan: BenchPlan, scenarios: list[dict[str, Any]], started_at: datetime, host: dict[str, Any]) -> dict:
    """The whole report, JSON-ready."""
    return {
        "started_at": started_at.isoformat(),
        "finished_at": datetime.now(UTC).isoformat(),
        "preset": plan.preset,
        "plan": plan.to_json(),
        "machine": {**host, "load_average_end": list(os.getloadavg())},
        "scenarios": scenarios,
        "targets": targets(scenarios),
        "per_day": per_day(scenarios),
        "comparison": comparison(scenarios),
    }


def write(report: dict[str, Any], out_dir: Path) -> list[Path]:
    """``bench-<timestamp>.json`` and ``latest.json`` in ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.fromisoformat(report["started_at"]).strftime("%Y%m%dT%H%M%SZ")
    text = json.dumps(report, indent=2, default=str)
    paths = [out_dir / f"bench-{stamp}.json", out_dir / "latest.json"]
    for path in paths:
        path.write_text(text + "\n")
    return paths


def _table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(cell)) for cell in column) for column in zip(headers, *rows, strict=True)]
    lines = ["  ".join(str(cell).rjust(width) if i else str(cell).ljust(width)
                       for i, (cell, width) in enumerate(zip(line, widths, strict=True)))
             for line in [headers, *rows]]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)


def _num(value: float | None, digits: int = 0) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def render(report: dict[str, Any]) -> str:
    """The tables: scenarios, tasks of each sync, the floor, the old cron, the targets."""
    scenarios = report["scenarios"]
    parts = []
    rows = []
    for entry in scenarios:
        if entry["kind"] == "webhooks" and _ok(entry):
            continue  # a table of its own below
        if not _ok(entry):
            rows.append([entry["name"], _num(entry["deals"]), "", "", "", "", "", "", "", "", "", "",
                         "FAILED" if "error" in entry else "skipped"])
            continue
        verified = entry.get("verified", {})
        rows.append([
            entry["name"], _num(entry["deals"]), _num(entry["contacts"]), _num(entry["wall_seconds"], 2),
            _num(entry["deals_per_second"]), str(entry["api"]["requests"]), str(entry["api"]["simulator_counted"]),
            str(entry["api"]["throttled"]), _num(entry.get("worker_cpu_seconds"), 2),
            _num(entry.get("simulator_cpu_seconds"), 2), _num(entry["peak_rss_mb"]),
            _num(entry.get("rss_after_import_mb")), "match" if verified.get("matched") else "MISMATCH",
        ])
    host = report["machine"]
    parts.append(
        f"{host['cpus']} CPUs, PostgreSQL {host['postgres']}, Python {host['python']}; load average "
        f"{host['load_average'][0]:.2f} at the start, {host['load_average_end'][0]:.2f} at the end (other work on "
        "the machine stretches wall times, hardly CPU seconds)\n"
        + _table(["scenario", "deals", "contacts", "wall s", "deals/s", "requests", "sim. saw", "429s",
                  "worker CPU s", "sim. CPU s", "peak RSS MB", "after import", "vs truth"], rows))
    for entry in scenarios:
        if not _ok(entry) or entry["kind"] not in ("full", "six_hourly"):
            continue
        task_rows = [[row["task"], _num(row["seconds"], 3), _num(row["records"]), row["unit"] or "",
                      _num(row["records_per_second"]), str(row["requests"])] for row in entry["tasks"]]
        parts.append(f"{entry['name']}: per task\n"
                     + _table(["task", "seconds", "records", "of", "records/s", "requests"], task_rows))
    latency_rows = []
    for entry in scenarios:
        if _ok(entry) and entry["kind"] == "latency" and entry.get("reading"):
            reading = entry["reading"]
            latency_rows.append([_latency(entry), entry.get("without") and f"no {entry['without']}" or "all",
                                 f"{entry['floor_seconds']:.1f}",
                                 f"{reading['seconds']:.1f} ({entry['reading_vs_floor'] - 1:+.1%})",
                                 f"{entry['wall_seconds']:.1f} ({entry['wall_vs_floor'] - 1:+.1%})",
                                 str(reading["requests"]), str(entry["floor_requests"]), str(reading["max_in_flight"])])
    if latency_rows:
        parts.append("full sync at the account's rate, by the API's latency (reading: first request to last "
                     "answer of the extracts; the whole run adds the key check, the loads and the check)\n"
                     + _table(["latency", "reader", "floor s", "reading s", "whole run s", "reads", "pages",
                               "in flight"],
                              latency_rows))
    day_rows = [[f"{row['deals']:,}", _num(row.get("with_count_run")), _num(row.get("with_count_daily_listing")),
                 _num(row.get("with_count_day")), _num(row.get("without_count_run")),
                 _num(row.get("without_count_day"))] for row in report.get("per_day", [])]
    if day_rows:
        parts.append(f"requests of the 6-hourly runs ({RUNS_PER_DAY} a day)\n" + _table(
            ["deals", "run, $count", "daily full listing", "a day, $count", "run, no $count", "a day, no $count"],
            day_rows))
    hook_rows = [[entry["name"], str(entry["changes"]), f"{entry['freshness']['p50']:.1f}",
                  f"{entry['freshness']['p95']:.1f}", f"{entry['freshness']['max']:.1f}", str(entry["applies"]),
                  str(entry["api"]["requests"]), str(entry["api"]["throttled"]),
                  "match" if (entry.get("verified") or {}).get("matched") else "MISMATCH"]
                 for entry in scenarios if entry["kind"] == "webhooks" and _ok(entry)]
    hook_rows += [["  of which prices and order lines (product_prices, order_items)", str(fresh["changes"]),
                   f"{fresh['p50']:.1f}", f"{fresh['p95']:.1f}", f"{fresh['max']:.1f}", "", "", "", ""]
                  for entry in scenarios if entry["kind"] == "webhooks" and _ok(entry)
                  for fresh in [entry.get("commerce_freshness")] if fresh]
    if hook_rows:
        parts.append("freshness by webhook: seconds from a change in Ploomes to the warehouse showing it\n" + _table(
            ["scenario", "changes", "p50 s", "p95 s", "max s", "applies", "requests", "429s", "vs truth"], hook_rows))
    versus = report.get("comparison") or {}
    for key, label in (("at_same_rate_limit", "at the same rate limit"), ("no_rate_limit", "with no rate limit")):
        if key in versus:
            numbers = versus[key]
            parts.append(f"old cron {versus['old_cron_seconds']:.1f} s / {versus['old_cron_requests']} requests; "
                         f"sync {label} {numbers['sync_seconds']:.1f} s / {numbers['sync_requests']} requests: "
                         f"{numbers['time_ratio']:.1f}x faster, {numbers['request_ratio']:.1f}x fewer requests")
    target_rows = [[t["target"], t["goal"], t["measured"], "met" if t["met"] else "MISSED", t["note"]]
                   for t in report["targets"]]
    heading = "targets" + (" (tiny sizes: not meaningful)" if report["preset"] == "tiny" else "")
    parts.append(f"{heading}\n" + _table(["target", "goal", "measured", "", "note"], target_rows))
    return "\n\n".join(parts)

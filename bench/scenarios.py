"""The scenarios, as a worker process runs them (one per process: see :mod:`bench.worker`).

Each takes the spec the parent wrote and returns a JSON-ready dict. The sync is driven through
:class:`ploomes_devkit.pipeline.Pipeline`, which calls the functions the DAG's tasks call
(``ploomes_sync.tasks``), in the DAG's order, each task on connections of its own.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from bench.baseline import OldCron
from ploomes_devkit.pipeline import Pipeline, PipelineRun, task_order
from ploomes_simulator import AdminClient
from ploomes_sync.config import SyncConfig
from ploomes_sync.hooks.ploomes import PloomesHook
from ploomes_sync.streams import registry

Spec = dict[str, Any]
# Which records a task handles, for its rate: the stream it reads or writes.
TASK_UNITS = {
    "extract_deals": "deals", "load_sales": "deals", "extract_contacts": "contacts",
    "load_customers": "contacts", "aggregate_customer_sales": "deals", "validate_by_year": "deals",
    "list_deletions": "deals",
}


class HookTracker:
    """The pipeline's ``hook_factory`` and ``before``: one hook per API task, remembered by task
    (per thread: the two extracts run side by side)."""

    def __init__(self) -> None:
        self._current = threading.local()
        self.hooks: list[tuple[str, PloomesHook]] = []

    def before(self, task: str) -> None:
        self._current.task = task

    def __call__(self, **arguments: Any) -> PloomesHook:
        hook = PloomesHook(**arguments)
        self.hooks.append((getattr(self._current, "task", None) or "unknown", hook))
        return hook

    def stat(self, task: str, name: str) -> int | float:
        """The sum of one :class:`RequestStats` counter over the task's hooks."""
        return sum(getattr(hook.stats, name) for hooked, hook in self.hooks if hooked == task)

    def reset(self) -> None:
        self._current, self.hooks = threading.local(), []


def _handled(task: str, result: Any, deals: int, tracker: HookTracker) -> int | None:
    """How many records ``task`` handled (None for tasks that handle none)."""
    if task in ("extract_deals", "extract_contacts"):
        return int(result["fetched"])
    if task in ("load_sales", "load_customers"):
        return int(result["inserted"] + result["updated"] + result["unchanged"])
    if task == "aggregate_customer_sales":
        return deals  # it recomputes from every row of public.sales
    if task == "list_deletions":
        return int(tracker.stat(task, "records")) if result is not None else 0
    return None


def _task_rows(run: PipelineRun, tracker: HookTracker, deals: int) -> list[dict[str, Any]]:
    rows = []
    for task in task_order():
        seconds = run.seconds.get(task)
        handled = _handled(task, run.results.get(task), deals, tracker)
        rows.append({
            "task": task,
            "seconds": seconds,
            "records": handled,
            "unit": TASK_UNITS.get(task),
            "records_per_second": handled / seconds if handled and seconds else None,
            "requests": int(tracker.stat(task, "requests")),
            "throttled": int(tracker.stat(task, "throttled")),
            "limiter_wait_seconds": float(tracker.stat(task, "limiter_wait_seconds")),
        })
    return rows


def _reading(entries: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The span of the reads of every stream (deals, contacts, products, quotes, orders), from the
    simulator's log: the first request's arrival to the last answer (what the floor bounds), and how
    many requests were in flight at most."""
    endpoints = {f"/{stream.endpoint}" for stream in registry()}
    reads = [entry for entry in entries if entry["path"] in endpoints]
    if not reads:
        return None
    spans = [(entry["t"], entry["answered"]) for entry in reads]
    first, last = min(start for start, _ in spans), max(end for _, end in spans)
    in_flight = max(sum(1 for start, end in spans if start <= t < end) for t, _ in spans)
    return {"seconds": last - first, "requests": len(reads), "max_in_flight": in_flight}


def _timed_run(spec: Spec, config: SyncConfig, run: Callable[[Pipeline], PipelineRun]) -> dict[str, Any]:
    """One pipeline run, timed, with its requests counted by the hooks and by the simulator."""
    admin = AdminClient(spec["sim_url"])
    tracker = HookTracker()
    pipeline = Pipeline(spec["db_url"], hook_factory=tracker, config=config, before=tracker.before)
    admin.clear_requests()
    began = time.perf_counter()
    result = run(pipeline)
    wall = time.perf_counter() - began
    counted = admin.request_counts()
    deals = spec["deals"]
    check = result.results.get("validate_by_year") or {}
    listing = result.results.get("list_deletions") or {}
    return {
        "mode": (result.plan or {}).get("mode"),
        "status": result.status,
        "wall_seconds": wall,
        "task_seconds": result.total_seconds,
        "deals_per_second": deals / wall,
        "tasks": _task_rows(result, tracker, deals),
        "fetched": {stream.name: int(result.results[f"extract_{stream.name}"]["fetched"]) for stream in registry()},
        "api": {
            "requests": result.api_requests,
            "throttled": result.api_throttled,
            "simulator_counted": int(counted["total"]),
            "simulator_by_status": counted.get("by_status", {}),
        },
        "reading": _reading(admin.requests()) if spec.get("measure_reading") else None,
        "listing": {name: {k: v for k, v in info.items() if k != "rejected"} for name, info in listing.items()},
        "deleted": {name: info.get("deleted", 0) for name, info in
                    (result.results.get("reconcile_deletions") or {}).items()},
        "checked": bool(check.get("compared")),
    }


def _sync_config(overrides: dict[str, Any]) -> SyncConfig:
    return SyncConfig(**overrides)


def full_sync(spec: Spec) -> dict[str, Any]:
    """A full sync into an empty warehouse (the rate and the latency are whatever the spec says)."""
    return _timed_run(spec, _sync_config({}), lambda pipeline: pipeline.run(run_type="manual"))


def six_hourly(spec: Spec) -> dict[str, Any]:
    """Change deals through the admin API (updates, creations, deletions) and the commerce streams (new
    orders, catalogue prices, deletions of orders, quotes and products), then a scheduled run.

    The lookback is 0 here: the runs of the benchmark are seconds apart, so a lookback would re-read
    the previous scenario's changes, which runs 6 hours apart hardly do.
    """
    admin = AdminClient(spec["sim_url"])
    updates, creates, deletes = spec["changes"]
    orders, prices, gone = spec.get("commerce_changes") or (0, 0, 0)
    changed = admin.mutate(updates=updates, creates=creates, deletes=deletes, seed=spec.get("seed", 0),
                           orders=orders, price_changes=prices, commerce_deletes=gone)
    config = _sync_config({"lookback_minutes": 0, **(spec.get("config") or {})})
    measured = _timed_run(spec, config, lambda pipeline: pipeline.run(run_type="scheduled"))
    measured["changed"] = {key: len(value) for key, value in changed.items()}
    measured["config"] = spec.get("config") or {}
    return measured


def baseline(spec: Spec) -> dict[str, Any]:
    """The old cron (:mod:`bench.baseline`) into an empty warehouse."""
    admin = AdminClient(spec["sim_url"])
    cron = OldCron(spec["sim_url"], spec["api_key"], page_size=spec["page_size"],
                   pause_seconds=spec["pause_seconds"])
    admin.clear_requests()
    began = time.perf_counter()
    stats = cron.run(spec["db_url"])
    wall = time.perf_counter() - began
    counted = admin.request_counts()
    tasks = []
    for step, unit in (("migrate", None), ("deals", "deals"), ("contacts", "contacts"), ("aggregate", "deals")):
        handled = stats.records.get(unit) if step != "aggregate" else stats.records.get("deals")
        seconds = stats.seconds[step]
        tasks.append({"task": step, "seconds": seconds, "records": handled, "unit": unit,
                      "records_per_second": handled / seconds if handled and seconds else None})
    return {
        "mode": "old cron",
        "wall_seconds": wall,
        "deals_per_second": spec["deals"] / wall,
        "pause_seconds": stats.pause_seconds,
        "tasks": tasks,
        "fetched": {"deals": stats.records["deals"] + stats.rejected["deals"],
                    "contacts": stats.records["contacts"] + stats.rejected["contacts"]},
        "api": {"requests": stats.requests, "throttled": stats.throttled,
                "simulator_counted": int(counted["total"]), "simulator_by_status": counted.get("by_status", {})},
    }


SCENARIOS: dict[str, Callable[[Spec], dict[str, Any]]] = {
    "full": full_sync,
    "latency": full_sync,
    "six_hourly": six_hourly,
    "baseline": baseline,
}


def webhooks(spec: Spec) -> dict[str, Any]:
    """Freshness by webhook: changes made in Ploomes one after another (deals updated, created and
    deleted; catalogue prices; an order's line), delivered to the plugin's
    receiver (uvicorn, on loopback) and applied by the applier loop (the AssetWatcher's poll and the
    DAG's task, outside Airflow), at the account's rate and the spec's latency. For each change, the
    seconds from the change to the warehouse showing it."""
    import json
    import os
    import random

    import psycopg

    from ploomes_devkit.demo import postgres_connection
    from ploomes_devkit.webhook_stack import ApplierLoop, ReceiverServer
    from ploomes_sync import tasks
    from ploomes_sync.web.app import create_app
    from ploomes_sync.webhooks import registration
    from ploomes_sync.webhooks.apply import apply_until_quiet
    from ploomes_sync.webhooks.trigger import DEFAULT_POLL_SECONDS

    admin = AdminClient(spec["sim_url"])
    db_url = spec["db_url"]
    os.environ["AIRFLOW_CONN_SALES_DB"] = json.dumps(postgres_connection(db_url))
    key = f"bench-webhook-{random.Random(spec['seed']).getrandbits(64):016x}"

    admin.configure(rate_limit=0, latency_seconds=0.0)  # the initial load, as fast as it goes
    fast = lambda **arguments: PloomesHook(requests_per_minute=1_000_000, **arguments)  # noqa: E731
    initial = Pipeline(db_url, hook_factory=fast).run()
    if initial.status != "success":
        raise RuntimeError(f"the initial sync failed: {initial.failed}")
    admin.configure(rate_limit=spec["requests_per_minute"], latency_seconds=spec["latency"],
                    webhook_delay_seconds=spec["delivery_delay"], webhook_shuffle=True)

    def connect() -> psycopg.Connection:
        return psycopg.connect(db_url)

    def apply_once(run_id: str) -> None:  # what the DAG's task does: apply, then linger for more
        with connect() as conn, connect() as reject_conn:
            apply_until_quiet(hook=PloomesHook(limiter=tasks.account_budget(connect)), conn=conn,
                              reject_conn=reject_conn, config=SyncConfig(), run_id=run_id,
                              dag_id="ploomes_webhook_apply")

    rng = random.Random(spec["seed"])
    seconds: list[float] = []
    commerce_seconds: list[float] = []  # of the price and order changes alone
    with ReceiverServer(create_app()) as receiver:
        os.environ["AIRFLOW_CONN_PLOOMES_WEBHOOK"] = json.dumps(
            {"conn_type": "http", "host": receiver.url, "password": key})
        url, _ = registration.receiver_settings()
        registration.register(PloomesHook(), url, key)
        with ApplierLoop(apply_once, lambda: psycopg.connect(db_url, autocommit=True),
                         poll_interval=DEFAULT_POLL_SECONDS) as applier, \
                psycopg.connect(db_url, autocommit=True) as watch:
            pending: dict[int, tuple[float, str | None]] = {}  # deal id -> (changed at, title expected; None: gone)
            # (kind, product or order id) -> (changed at, value expected, id of the row that shows it)
            commerce: dict[tuple[str, int], tuple[float, Decimal, int]] = {}
            ids = [deal["Id"] for deal in admin.truth_deals()]
            products = [product["Id"] for product in admin.truth("products")]
            orders = {order["Id"]: order for order in admin.truth("orders") if order["Products"]}
            began = time.monotonic()
            next_change = began
            made = 0
            while made < spec["changes_count"] or pending or commerce:
                now = time.monotonic()
                if made < spec["changes_count"] and now >= next_change:
                    kind = rng.choices(("update", "create", "delete", "price", "order"), (6, 1, 1, 1, 1))[0]
                    at = time.monotonic()
                    if kind == "price":  # a catalogue price: product_prices' current period shows it
                        product_id = rng.choice([p for p in products if ("price", p) not in commerce])
                        price = Decimal(f"{rng.uniform(1, 900):.2f}")
                        admin.update("products", product_id, UnitPrice=float(price))
                        commerce[("price", product_id)] = (at, price, product_id)
                    elif kind == "order":  # an order's first line: order_items (and the view) show it
                        order = orders[rng.choice([o for o in orders if ("order", o) not in commerce])]
                        quantity = Decimal(rng.randint(1, 99))
                        lines = [{key: line[key] for key in ("Id", "ProductId", "ProductName", "Quantity",
                                                             "UnitPrice", "Discount")} for line in order["Products"]]
                        lines[0]["Quantity"] = int(quantity)
                        admin.update("orders", order["Id"], Products=lines)
                        commerce[("order", order["Id"])] = (at, quantity, lines[0]["Id"])
                    elif kind == "create":
                        title = f"bench creation {made}"
                        deal_id = admin.create_deal(Title=title, Amount=round(rng.uniform(100, 9000), 2))["Id"]
                        ids.append(deal_id)
                        pending[deal_id] = (at, title)
                    else:
                        deal_id = rng.choice([i for i in ids if i not in pending])
                        if kind == "update":
                            title = f"bench edit {made}"
                            admin.update_deal(deal_id, Title=title)
                        else:
                            title = None
                            admin.delete_deal(deal_id)
                            ids.remove(deal_id)
                        pending[deal_id] = (at, title)
                    made += 1
                    next_change += spec["change_interval"]
                if pending:
                    rows = dict(watch.execute("SELECT id, title FROM public.sales WHERE id = ANY(%s)",
                                              [list(pending)]).fetchall())
                    for deal_id, (at, title) in list(pending.items()):
                        if rows.get(deal_id) == title:  # None: the deletion landed
                            seconds.append(time.monotonic() - at)
                            del pending[deal_id]
                if commerce:
                    rows_of = {kind: [row for (k, _), (_, _, row) in commerce.items() if k == kind]
                               for kind in ("price", "order")}
                    shown = {("price", row[0]): row[1] for row in watch.execute(
                        "SELECT product_id, unit_price FROM public.product_prices WHERE valid_to IS NULL "
                        "AND product_id = ANY(%s)", [rows_of["price"]])}
                    shown.update({("order", row[0]): row[1] for row in watch.execute(
                        "SELECT id, quantity FROM public.order_items WHERE id = ANY(%s)", [rows_of["order"]])})
                    for change, (at, value, row) in list(commerce.items()):
                        if shown.get((change[0], row)) == value:
                            commerce_seconds.append(time.monotonic() - at)
                            seconds.append(commerce_seconds[-1])
                            del commerce[change]
                if time.monotonic() - began > spec["timeout"]:
                    raise RuntimeError(f"{len(pending)} changes did not land within {spec['timeout']} s")
                time.sleep(0.1)
            errors = [repr(error) for error in applier.errors]
            applies = applier.runs
    with psycopg.connect(db_url) as conn:
        requests, throttled = conn.execute("SELECT coalesce(sum(api_requests), 0), coalesce(sum(throttled), 0) "
                                           "FROM ploomes_sync.run_history WHERE run_type = 'webhook'").fetchone()
    ordered = sorted(seconds)
    return {
        "mode": "webhooks", "status": "success" if not errors else "failed", "errors": errors,
        "changes": len(seconds), "applies": applies, "api": {"requests": int(requests), "throttled": int(throttled)},
        "freshness": {"p50": _percentile(ordered, 50), "p95": _percentile(ordered, 95), "max": ordered[-1],
                      "mean": sum(ordered) / len(ordered)},
        "commerce_freshness": _freshness(sorted(commerce_seconds)),
        "wall_seconds": time.monotonic() - began,
        "deals_per_second": None,
    }


def _freshness(ordered: list[float]) -> dict[str, Any] | None:
    if not ordered:
        return None
    return {"changes": len(ordered), "p50": _percentile(ordered, 50), "p95": _percentile(ordered, 95),
            "max": ordered[-1]}


def _percentile(ordered: list[float], percent: float) -> float:
    """Nearest-rank percentile of sorted values."""
    rank = max(1, math.ceil(percent / 100 * len(ordered)))
    return ordered[rank - 1]


SCENARIOS["webhooks"] = webhooks

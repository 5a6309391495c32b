"""Webhook freshness in a real Airflow: the webhooks registered and the applier watching, then
deals changed one at a time and the seconds until ``public.sales`` shows each (the slow-tier
webhook tests and ``python -m bench.airflow webhooks`` measure it the same way)."""

from __future__ import annotations

import time
from typing import Any

from tests.support.airflow_stack import E2EStack

APPLY, SETUP = "ploomes_webhook_apply", "ploomes_webhook_setup"
BOUND = 60.0  # seconds from a change in Ploomes to the warehouse, in a real Airflow


def start_webhooks(stack: E2EStack) -> None:
    """On a stack made with ``use_schedule=True``: the first full sync, then the applier and the
    setup unpaused and ``ploomes_webhook_setup`` run (it registers the webhooks in the simulator)."""
    run = stack.initial_sync()
    assert run["state"] == "success", stack.explain(run["dag_run_id"])
    for dag_id in (SETUP, APPLY):
        stack.api.wait_for_dag(dag_id, alive=stack.alive)
        stack.api.set_paused(dag_id, False)
    setup = stack.api.trigger_dag_run(SETUP)
    done = stack.api.wait_for_dag_run(SETUP, setup["dag_run_id"], timeout=180, alive=stack.alive)
    assert done["state"] == "success", stack.explain(setup["dag_run_id"])


def measure_freshness(stack: E2EStack, deals: list[dict], interval: float) -> list[float]:
    """``deals`` changed one at a time, ``interval`` seconds apart, each delivered 50 ms after the
    change (the sync paused): the seconds from each change to ``public.sales`` showing it."""
    stack.sim.admin.configure(webhook_delay_seconds=0.05)
    changed: dict[int, tuple[float, str]] = {}
    landed: dict[int, float] = {}
    try:
        next_change = time.monotonic()
        while len(landed) < len(deals):
            if len(changed) < len(deals) and time.monotonic() >= next_change:
                deal = deals[len(changed)]
                title = f"freshness {time.monotonic():.3f}"
                changed[deal["Id"]] = (time.monotonic(), title)
                stack.sim.admin.update_deal(deal["Id"], Title=title)
                next_change += interval
            with stack.connect() as conn:
                rows = dict(conn.execute("SELECT id, title FROM public.sales WHERE id = ANY(%s)",
                                         [[i for i in changed if i not in landed]]).fetchall())
            for deal_id, (at, title) in changed.items():
                if deal_id not in landed and rows.get(deal_id) == title:
                    landed[deal_id] = time.monotonic() - at
            stack.alive()
            late = set(changed) - set(landed)
            assert time.monotonic() - next_change < BOUND, f"not landed within {BOUND:.0f} s: {late}"
            time.sleep(0.1)
    finally:
        stack.sim.admin.configure(webhook_delay_seconds=0)
    return [landed[deal["Id"]] for deal in deals]


def figures(seconds: list[float], interval: float) -> dict[str, Any]:
    """p50, p95 (nearest rank) and max of ``seconds``, and each of them."""
    ordered = sorted(seconds)
    return {"changes": len(ordered), "interval_seconds": interval, "p50": round(ordered[len(ordered) // 2], 2),
            "p95": round(ordered[max(0, round(0.95 * len(ordered)) - 1)], 2), "max": round(ordered[-1], 2),
            "each": [round(s, 2) for s in seconds]}

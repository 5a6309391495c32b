"""Webhooks in a real Airflow: the simulator delivers to the plugin's receiver on the API server,
the inbox's AssetWatcher (in the triggerer) starts ploomes_webhook_apply, and the changes land.

One Airflow for the module: a full sync first, then ploomes_webhook_setup registers the webhooks
(pointing at this Airflow), then each test changes Ploomes and watches the warehouse.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import psycopg
import pytest
import requests

from ploomes_sync.records import parse_instant
from ploomes_sync.streams import registry
from tests.support.airflow_stack import E2E_API_KEY, WEBHOOK_KEY, E2EStack, airflow_stack
from tests.support.artifacts import artifacts_dir
from tests.support.freshness import APPLY, BOUND, SETUP, figures, measure_freshness, start_webhooks

# Create, Update and Delete of each stream, and Win and Lose of deals (the simulator lists 5 actions)
WEBHOOKS = 3 * sum(1 for stream in registry() if stream.webhook_entity_id) + 2  # and Win, Lose of deals


@pytest.fixture(scope="module")
def stack(pg_admin_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[E2EStack]:
    with airflow_stack(pg_admin_url, tmp_path_factory.mktemp("airflow-home"), deals=300, contacts=30,
                       use_schedule=True) as stack:
        start_webhooks(stack)
        yield stack


def receiver(stack: E2EStack) -> str:
    return f"{stack.airflow.url}/ploomes-sync/webhooks"


def inbox(stack: E2EStack) -> list[dict[str, Any]]:
    with stack.connect() as conn, conn.cursor(row_factory=psycopg.rows.dict_row) as cur:
        return cur.execute("SELECT * FROM ploomes_sync.webhook_inbox ORDER BY id").fetchall()


def warehouse_deals(stack: E2EStack) -> dict[int, Any]:
    with stack.connect() as conn:
        return dict(conn.execute("SELECT id, updated_at FROM public.sales").fetchall())


def differences(stack: E2EStack, ids: set[int]) -> set[int]:
    """Of ``ids``, the deals whose warehouse row differs from Ploomes (missing, extra or older)."""
    truth = {d["Id"]: parse_instant(d["LastUpdateDate"]) for d in stack.sim.admin.truth_deals() if d["Id"] in ids}
    rows = {i: v for i, v in warehouse_deals(stack).items() if i in ids}
    return {i for i in ids if truth.get(i) != rows.get(i)}


def wait_until_landed(stack: E2EStack, ids: set[int], timeout: float = BOUND) -> float:
    """Seconds until every deal of ``ids`` is in the warehouse as in Ploomes; fails after ``timeout``."""
    started = time.monotonic()
    while differences(stack, ids):
        stack.alive()
        if time.monotonic() - started > timeout:
            raise AssertionError(f"not landed within {timeout:.0f} s: {sorted(differences(stack, ids))[:10]}; "
                                 f"inbox: {[(e['record_id'], e['outcome']) for e in inbox(stack)][-10:]}")
        time.sleep(0.5)
    return time.monotonic() - started


def test_the_setup_registered_every_action_pointing_at_this_airflow(stack: E2EStack):
    webhooks = stack.sim.admin.webhooks()
    assert len(webhooks) == WEBHOOKS
    assert {(w["CallbackUrl"], w["ValidationKey"]) for w in webhooks} == {(receiver(stack), WEBHOOK_KEY)}
    again = stack.api.trigger_dag_run(SETUP)
    assert stack.api.wait_for_dag_run(SETUP, again["dag_run_id"], timeout=180)["state"] == "success"
    assert len(stack.sim.admin.webhooks()) == WEBHOOKS, "a second setup created no duplicates"


def test_updates_creations_deletions_and_wins_land_within_a_minute(stack: E2EStack):
    deals = stack.sim.admin.truth_deals()
    opened = next(d for d in deals if d["StatusId"] == 1)
    stack.sim.admin.update_deal(opened["Id"], StatusId=2)
    stack.sim.admin.update_deal(deals[1]["Id"], Title="Edited in Ploomes")
    stack.sim.admin.delete_deal(deals[2]["Id"])
    created = stack.sim.admin.create_deal(Amount=99.9, ContactId=deals[3]["ContactId"])
    seconds = wait_until_landed(stack, {opened["Id"], deals[1]["Id"], deals[2]["Id"], created["Id"]})
    assert seconds < BOUND
    runs = stack.api.list_dag_runs(APPLY)
    assert runs and all(run["run_type"] == "asset_triggered" for run in runs)
    assert all(entry["status"] == 202 for entry in stack.sim.admin.deliveries())


def test_an_order_line_and_a_catalogue_price_land_in_the_price_history(stack: E2EStack):
    order = next(o for o in stack.sim.admin.truth("orders") if o["Products"])
    product = stack.sim.admin.truth("products")[0]
    line = {k: order["Products"][0][k] for k in ("Id", "ProductId", "ProductName", "UnitPrice", "Discount")}
    stack.sim.admin.update("orders", order["Id"], Products=[{**line, "Quantity": 42}])
    stack.sim.admin.update("products", product["Id"], UnitPrice=4321.0)
    started = time.monotonic()
    while True:
        with stack.connect() as conn:
            quantity = conn.execute("SELECT sum(quantity) FROM public.order_items WHERE order_id = %s",
                                    [order["Id"]]).fetchone()[0]
            price = conn.execute("SELECT unit_price FROM public.product_prices WHERE product_id = %s "
                                 "AND valid_to IS NULL", [product["Id"]]).fetchone()
        if quantity == 42 and price == (Decimal("4321.00"),):
            break
        stack.alive()
        assert time.monotonic() - started < BOUND, (quantity, price)
        time.sleep(0.5)


def test_changes_one_at_a_time_each_land_by_themselves(stack: E2EStack):
    """The measure `make bench` takes in a real Airflow (bench.airflow webhooks: rounds of 20 to 40
    changes, and changes 25 s apart), on a few changes: one first (an applier just unpaused starts
    watching when its DAG is next parsed), 3 changes 4 s apart (the applier's task lingers between
    them), then one after the task ended (the watcher starts a new run). It asserts only
    that every change lands within the bound, and writes what it saw."""
    deals = stack.sim.admin.truth_deals()[40:45]
    first = measure_freshness(stack, deals[:1], 1.0)
    close = measure_freshness(stack, deals[1:4], 4.0)
    deadline = time.monotonic() + 60
    while stack.api.list_dag_runs(APPLY, state="running") and time.monotonic() < deadline:
        time.sleep(1)  # the applier's task ends after its linger
    runs_before = len(stack.api.list_dag_runs(APPLY))
    apart = measure_freshness(stack, deals[4:5], 25.0)
    runs = len(stack.api.list_dag_runs(APPLY))
    measured = {"first change after the applier was unpaused": round(first[0], 2), "4 s apart": figures(close, 4.0),
                "after the task ended": round(apart[0], 2), "applier runs": runs}
    (artifacts_dir("webhooks") / "freshness-real-airflow.json").write_text(json.dumps(measured, indent=2))
    logging.getLogger(__name__).warning("webhook freshness in a real Airflow: %s", measured)
    assert len(close) == 3 and len(apart) == 1
    assert runs > runs_before  # the change after the task ended started a run of its own


def test_forged_and_malformed_deliveries_are_refused_and_store_nothing(stack: E2EStack):
    before = len(inbox(stack))
    body = {"Action": "Update", "Entity": "Deal", "New": {"Id": 1}, "Old": {"Id": 1}}
    cases = [({}, body, 401), ({"X-Ploomes-Validation-Key": "forged"}, body, 403),
             ({"X-Ploomes-Validation-Key": WEBHOOK_KEY}, "not json", 400),
             ({"X-Ploomes-Validation-Key": WEBHOOK_KEY}, {"Entity": "Tasks", "New": {"Id": 1}}, 422)]
    for headers, payload, status in cases:
        kwargs = {"json": payload} if isinstance(payload, dict) else {"data": payload}
        answer = requests.post(receiver(stack), headers=headers, timeout=10, **kwargs)
        assert answer.status_code == status, (headers, payload, answer.text)
    assert len(inbox(stack)) == before


def test_duplicated_and_reordered_deliveries_change_nothing(stack: E2EStack):
    stack.sim.admin.configure(webhook_duplicate_percent=100, webhook_shuffle=True, webhook_delay_seconds=2.0)
    try:
        deals = stack.sim.admin.truth_deals()[10:16]
        for step in ("first", "second", "third"):
            for deal in deals:
                stack.sim.admin.update_deal(deal["Id"], Title=f"{step} edit")
        wait_until_landed(stack, {d["Id"] for d in deals})
    finally:
        stack.sim.admin.configure(webhook_duplicate_percent=0, webhook_shuffle=False, webhook_delay_seconds=0)
    with stack.connect() as conn:
        titles = {row[0] for row in conn.execute("SELECT title FROM public.sales WHERE id = ANY(%s)",
                                                 [[d["Id"] for d in deals]])}
    assert titles == {"third edit"}


def test_an_event_for_a_deal_deleted_later_deletes_nothing_on_its_own(stack: E2EStack):
    """One read by Id that finds nothing is one answer: the row waits for the next sync's listing and
    a second read (tests/webhooks/test_apply.py shows the next listing removing it)."""
    deal = stack.sim.admin.truth_deals()[20]
    stack.sim.admin.configure(webhook_delay_seconds=3.0)  # the update arrives after the deletion happened
    try:
        stack.sim.admin.update_deal(deal["Id"], Title="about to go")
        stack.sim.admin.configure(webhook_drop_percent=100)
        stack.sim.admin.delete_deal(deal["Id"])  # its Delete delivery is lost
        stack.sim.admin.configure(webhook_drop_percent=0)
        deadline = time.monotonic() + BOUND
        while not any(e["record_id"] == deal["Id"] and e["outcome"] for e in inbox(stack)):
            stack.alive()
            assert time.monotonic() < deadline, "the delivery was not applied"
            time.sleep(0.5)
    finally:
        stack.sim.admin.configure(webhook_delay_seconds=0, webhook_drop_percent=0)
    assert [e["outcome"] for e in inbox(stack) if e["record_id"] == deal["Id"]] == ["not in Ploomes"]
    assert deal["Id"] in warehouse_deals(stack)


def test_the_inbox_survives_an_api_server_restart_between_receipt_and_apply(stack: E2EStack):
    stack.api.set_paused(APPLY, True)
    deadline = time.monotonic() + 90  # a run under way goes on (its task lingers): let it end
    while any(stack.api.list_dag_runs(APPLY, state=state) for state in ("queued", "running")):
        assert time.monotonic() < deadline, "the applier's run did not end"
        time.sleep(1)
    deal = stack.sim.admin.truth_deals()[30]
    stack.sim.admin.update_deal(deal["Id"], Title="received before the restart")
    deadline = time.monotonic() + 20
    while not any(e["record_id"] == deal["Id"] and e["applied_at"] is None for e in inbox(stack)):
        assert time.monotonic() < deadline, "the delivery was not stored"
        time.sleep(0.2)
    stack.airflow.restart("api-server")
    assert differences(stack, {deal["Id"]}), "nothing applied it while the applier was paused"
    stack.api.set_paused(APPLY, False)  # the watcher fires again for events still pending (30 s, 60 s ...)
    wait_until_landed(stack, {deal["Id"]}, timeout=150)


def test_only_airflow_users_see_the_health_data_and_it_shows_the_webhooks(stack: E2EStack):
    url = f"{stack.airflow.url}/ploomes-sync"
    assert requests.get(f"{url}/health.json", timeout=10).status_code == 401
    assert requests.get(f"{url}/metrics", headers={"Authorization": "Bearer forged"}, timeout=10).status_code == 403
    page = requests.get(f"{url}/health", headers={"Accept": "text/html"}, timeout=10, allow_redirects=False)
    assert page.status_code == 303 and "/auth/login" in page.headers["location"]
    token = stack.api.login()
    data = requests.get(f"{url}/health.json", headers={"Authorization": f"Bearer {token}"}, timeout=10).json()
    assert data["webhook_freshness_seconds"] is not None and data["inbox"]["received_24h"] > 0
    assert any(run["run_type"] == "webhook" for run in data["runs"])
    metrics = requests.get(f"{url}/metrics", cookies={"_token": token}, timeout=10)
    assert metrics.status_code == 200 and "ploomes_sync_inbox_backlog" in metrics.text


def test_no_key_appears_in_any_log(stack: E2EStack):
    logs = [stack.airflow.log_path, *sorted((stack.airflow.home / "logs").rglob("*.log"))]
    assert len(logs) > 5
    for path in logs:
        text = path.read_text(errors="replace")
        assert WEBHOOK_KEY not in text, path
        assert E2E_API_KEY not in text, path

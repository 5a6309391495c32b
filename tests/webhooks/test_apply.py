"""The applier: deliveries from the simulator, through the receiver, into the warehouse.

Every test makes changes in the simulator (which delivers them to the receiver), applies the
inbox, and compares the warehouse with the simulator's truth, record by record.
"""

from __future__ import annotations

import math

import pytest
import requests

from ploomes_sync.config import SyncConfig
from ploomes_sync.errors import MassDeletionRefused, StreamForbidden
from ploomes_sync.records import parse_instant
from tests.webhooks.conftest import WebhookStack


def won_status(row: dict) -> bool:
    return row["status"] == "won"


def assert_deals_match_truth(stack: WebhookStack) -> None:
    truth = {deal["Id"]: deal for deal in stack.sim.admin.truth_deals()}
    rows = stack.rows("sales")
    assert set(rows) == set(truth), (sorted(set(truth) - set(rows))[:5], sorted(set(rows) - set(truth))[:5])
    for deal_id, deal in truth.items():
        row = rows[deal_id]
        assert row["updated_at"] == parse_instant(deal["LastUpdateDate"]), deal_id
        assert (row["title"], float(row["deal_value"] or 0)) == (deal["Title"], float(deal["Amount"] or 0)), deal_id


def assert_customer_sales_consistent(stack: WebhookStack) -> None:
    """The customer_sales rows the applier refreshed are what a full recompute gives: it changes nothing."""
    from ploomes_sync import warehouse

    with stack.connect() as conn:
        result = warehouse.aggregate_customer_sales(conn)
    assert (result.inserted, result.updated, result.deleted) == (0, 0, 0), result


class TestChangesLand:
    def test_a_custom_value_changed_in_ploomes_arrives_typed(self, registered: WebhookStack):
        stack = registered
        segment = next(f for f in stack.sim.admin.truth("fields") if f["Name"] == "Segmento")
        deal = stack.sim.admin.truth_deals()[11]
        stack.sim.admin.update_deal(deal["Id"], OtherProperties={segment["Key"]: 4100104})
        stack.wait_for_deliveries(1)

        stack.apply()

        with stack.connect() as conn:
            (values,) = conn.execute("SELECT custom_fields FROM public.sales WHERE id = %s", [deal["Id"]]).fetchone()
        assert values[segment["Key"]] == 4100104  # the option's id, read again by Id with the deal

    def test_updates_creations_deletions_and_wins_reach_the_warehouse(self, registered: WebhookStack):
        stack = registered
        deals = stack.sim.admin.truth_deals()
        open_deal = next(d for d in deals if d["StatusId"] == 1)
        stack.sim.admin.update_deal(open_deal["Id"], StatusId=2)  # a win: Update and Win deliveries
        stack.sim.admin.update_deal(deals[5]["Id"], Title="Renamed by the sales team")
        stack.sim.admin.delete_deal(deals[9]["Id"])
        created = stack.sim.admin.create_deal(Amount=1234.5, ContactId=deals[3]["ContactId"])
        stack.wait_for_deliveries(5)
        with stack.connect() as conn:
            watermarks = conn.execute("SELECT stream, value FROM ploomes_sync.watermarks").fetchall()

        applied = stack.apply()

        assert applied.events == 5 and applied.batches == 1 and not applied.refused
        assert applied.outcomes == {"current": 3, "deleted": 1}
        assert_deals_match_truth(stack)
        rows = stack.rows("sales")
        assert won_status(rows[open_deal["Id"]]) and rows[created["Id"]]["deal_value"] == 1234.5
        assert_customer_sales_consistent(stack)
        with stack.connect() as conn:
            assert conn.execute("SELECT id FROM ploomes_sync.deleted_sales").fetchall() == [(deals[9]["Id"],)]
            # only some records were read: the watermarks do not move
            assert conn.execute("SELECT stream, value FROM ploomes_sync.watermarks").fetchall() == watermarks
            history = conn.execute("SELECT run_type, mode, status, streams -> 'deals' ->> 'events', api_requests "
                                   "FROM ploomes_sync.run_history WHERE run_id = 'webhook__test'").fetchone()
        assert history == ("webhook", "events", "success", "5", applied.api_requests)
        assert applied.api_requests == 2  # four deals re-read by Id in one request, the deleted one once more
        assert {e["outcome"] for e in stack.inbox()} == {"current", "deleted"}
        assert all(e["applied_at"] and e["apply_run_id"] == "webhook__test" for e in stack.inbox())

    def test_a_contact_change_reaches_customers(self, registered: WebhookStack):
        stack = registered
        contact = stack.sim.admin.truth_contacts()[0]
        stack.sim.admin.update_contact(contact["Id"], Name="Padaria Renomeada Ltda")
        stack.wait_for_deliveries(1)
        applied = stack.apply()
        assert applied.streams["contacts"]["updated"] == 1
        assert stack.rows("customers")[contact["Id"]]["name"] == "Padaria Renomeada Ltda"

    def test_the_payload_is_never_trusted_the_record_is_read_again(self, stack: WebhookStack):
        deal = stack.sim.admin.truth_deals()[0]
        forged = {"Action": "Update", "Entity": "Deal", "New": {**deal, "Title": "Forged", "Amount": 1e9},
                  "Old": deal}
        assert requests.post(stack.endpoint, json=forged, headers=stack.headers(), timeout=10).status_code == 202
        stack.apply()
        row = stack.rows("sales")[deal["Id"]]
        assert row["title"] == deal["Title"] and row["title"] != "Forged"


class TestDuplicatesAndDisorder:
    def test_duplicated_and_shuffled_deliveries_change_nothing(self, registered: WebhookStack):
        stack = registered
        stack.sim.admin.configure(webhook_duplicate_percent=100, webhook_shuffle=True, webhook_delay_seconds=0.5)
        deals = stack.sim.admin.truth_deals()
        for n, deal in enumerate(deals[:6]):
            stack.sim.admin.update_deal(deal["Id"], Title=f"first {n}")
            stack.sim.admin.update_deal(deal["Id"], Title=f"second {n}")
        log = stack.wait_for_deliveries(24)
        assert len(log) == 24 and all(entry["status"] == 202 for entry in log)
        order = [(e["record_id"], e["changed_at"]) for e in log]
        assert order != sorted(order, key=lambda pair: pair[1]), "the deliveries were not reordered"

        stack.apply()
        assert_deals_match_truth(stack)
        assert [stack.rows("sales")[d["Id"]]["title"] for d in deals[:6]] == [f"second {n}" for n in range(6)]
        again = stack.apply("webhook__again")
        assert again.events == 0, "everything was applied once"

    def test_a_late_delivery_of_an_old_change_does_not_roll_a_row_back(self, stack: WebhookStack):
        deal = stack.sim.admin.truth_deals()[0]
        stack.sim.admin.update_deal(deal["Id"], Title="newest")
        stack.sync()  # the scheduled run already brought the newest version
        stale = {"Action": "Update", "Entity": "Deal", "New": {**deal, "Title": "older"}, "Old": deal}
        requests.post(stack.endpoint, json=stale, headers=stack.headers(), timeout=10)
        stack.apply()
        assert stack.rows("sales")[deal["Id"]]["title"] == "newest"


class TestDeletions:
    def test_an_update_whose_record_is_gone_deletes_nothing_and_the_next_listing_removes_it(
            self, registered: WebhookStack):
        stack = registered
        deal = stack.sim.admin.truth_deals()[3]
        stack.sim.admin.update_deal(deal["Id"], Title="edited, then deleted")
        stack.wait_for_deliveries(1)
        stack.sim.admin.configure(webhook_drop_percent=100)  # the Delete delivery never arrives
        stack.sim.admin.delete_deal(deal["Id"])
        stack.apply()
        assert deal["Id"] in stack.rows("sales")  # an empty re-read alone deletes nothing
        assert [e["outcome"] for e in stack.inbox()] == ["not in Ploomes"]
        stack.sync()  # the scheduled run's listing, and its read by Id, find it gone
        assert deal["Id"] not in stack.rows("sales")

    def test_updates_whose_re_read_comes_back_empty_delete_nothing(self, registered: WebhookStack):
        stack = registered
        deals = stack.sim.admin.truth_deals()[40:45]
        for deal in deals:
            stack.sim.admin.update_deal(deal["Id"], Title=f"edited {deal['Id']}")
        stack.wait_for_deliveries(5)
        stack.sim.admin.set_faults(schedule=[{"kind": "empty", "count": 1, "path": "/Deals"}])  # one bad answer

        applied = stack.apply()

        assert all(deal["Id"] in stack.rows("sales") for deal in deals)
        assert applied.outcomes == {"not in Ploomes": 5} and applied.api_requests == 1  # no second read: no Delete
        stack.sync()  # the next run brings the edits
        assert_deals_match_truth(stack)

    def test_a_delete_delivery_removes_a_record_only_when_a_second_read_agrees(self, stack: WebhookStack):
        # no webhook registered: the two deliveries are the test's own (the simulator's Delete for gone,
        # arriving while the apply runs or not, would make a third event)
        kept, gone = stack.sim.admin.truth_deals()[4:6]
        for deal in (kept, gone):
            requests.post(stack.endpoint, json={"Entity": "Deals", "Action": "Delete", "New": None,
                                                "Old": {"Id": deal["Id"]}}, headers=stack.headers(), timeout=10)
        stack.sim.admin.delete_deal(gone["Id"])
        # the first read by Id answers empty (a bad answer): kept is still in Ploomes, the second read says so
        stack.sim.admin.set_faults(schedule=[{"kind": "empty", "count": 1, "path": "/Deals"}])

        applied = stack.apply()

        rows = stack.rows("sales")
        assert kept["Id"] in rows and gone["Id"] not in rows
        assert applied.outcomes == {"deleted": 1, "current": 1}

    def test_an_event_for_a_record_ploomes_never_had_deletes_nothing(self, stack: WebhookStack):
        before = len(stack.rows("sales"))
        requests.post(stack.endpoint, json={"Entity": "Deal", "Action": "Create", "New": {"Id": 1}, "Old": None},
                      headers=stack.headers(), timeout=10)
        stack.apply()
        assert len(stack.rows("sales")) == before
        assert [e["outcome"] for e in stack.inbox()] == ["not in Ploomes"]

    def test_a_mass_deletion_by_webhooks_is_held_by_the_guard(self, registered: WebhookStack):
        stack = registered
        deals = stack.sim.admin.truth_deals()
        for deal in deals[:15]:
            stack.sim.admin.delete_deal(deal["Id"])
        stack.sim.admin.update_deal(deals[20]["Id"], Title="applied anyway")
        stack.wait_for_deliveries(16)
        config = SyncConfig(max_deletion_rows=10)
        try:
            stack.apply(config=config)
        except MassDeletionRefused as exc:
            assert "15" in str(exc) and "confirm_mass_deletion" in str(exc)
        else:
            raise AssertionError("the guard let 15 deletions through")
        rows = stack.rows("sales")
        assert all(deal["Id"] in rows for deal in deals[:15]), "nothing was deleted"
        assert rows[deals[20]["Id"]]["title"] == "applied anyway", "the other changes were applied"
        outcomes = sorted(e["outcome"] for e in stack.inbox())
        assert outcomes == ["current"] + ["deletion refused"] * 15
        with stack.connect() as conn:
            assert conn.execute("SELECT status FROM ploomes_sync.run_history WHERE run_id = 'webhook__test'"
                                ).fetchone() == ("failed",)


def test_a_batch_limit_splits_a_large_inbox_into_batches(registered: WebhookStack):
    stack = registered
    stack.sim.admin.mutate(updates=30, seed=4)  # an Update each, and a Win or Lose for some
    events = len(stack.wait_for_deliveries(30))
    applied = stack.apply(config=SyncConfig(webhook_batch_size=8))
    assert (applied.events, applied.batches, applied.pending) == (events, math.ceil(events / 8), 0)
    assert_deals_match_truth(stack)


def test_when_ten_percent_of_deliveries_are_dropped_the_next_scheduled_run_converges(registered: WebhookStack):
    stack = registered
    stack.sim.admin.configure(webhook_drop_percent=10)
    stack.sim.admin.mutate(updates=60, deletes=5, creates=10, seed=8)
    log = stack.wait_for_deliveries(60)
    dropped = [entry for entry in log if entry["dropped"]]
    assert dropped, "some deliveries were dropped"
    stack.apply()
    truth = {deal["Id"]: deal["LastUpdateDate"] for deal in stack.sim.admin.truth_deals()}
    rows = {deal_id: row["updated_at"] for deal_id, row in stack.rows("sales").items()}
    missed = {deal_id for deal_id in set(truth) | set(rows)
              if deal_id not in rows or deal_id not in truth
              or rows[deal_id] != parse_instant(truth[deal_id])}
    assert missed, "the dropped deliveries left changes the webhooks alone did not bring"
    stack.sync()
    assert_deals_match_truth(stack)
    assert_customer_sales_consistent(stack)


def test_events_arriving_while_the_applier_lingers_are_applied_by_the_same_task(registered: WebhookStack):
    """The task keeps watching the inbox after its apply: an event that arrives meanwhile is applied by
    it (its own run-history row), and the task ends once the inbox stayed quiet for the linger."""
    from ploomes_sync.hooks.ploomes import PloomesHook
    from ploomes_sync.webhooks.apply import apply_until_quiet

    stack = registered
    deals = stack.sim.admin.truth_deals()
    stack.sim.admin.update_deal(deals[0]["Id"], Title="before the task")
    stack.wait_for_deliveries(1)
    now = [0.0]
    later = iter([(deals[1]["Id"], 2), (deals[2]["Id"], 3)])  # the deal, and the deliveries made by then

    def sleep(seconds: float) -> None:  # the inbox polled at a fake clock; a change arrives on two polls
        now[0] += seconds
        if now[0] in (1.0, 2.5):
            deal_id, delivered = next(later)
            stack.sim.admin.update_deal(deal_id, Title="while it lingers")
            stack.wait_for_deliveries(delivered)

    config = SyncConfig(webhook_linger_seconds=3.0)
    with stack.connect() as conn, stack.connect() as reject_conn:
        applies = apply_until_quiet(hook=PloomesHook(), conn=conn, reject_conn=reject_conn, config=config,
                                    run_id="webhook__linger", dag_id="ploomes_webhook_apply", poll_seconds=0.5,
                                    clock=lambda: now[0], sleep=sleep)
    assert [a.events for a in applies] == [1, 1, 1]
    assert [a.run_id for a in applies] == ["webhook__linger", "webhook__linger+2", "webhook__linger+3"]
    assert now[0] == 2.5 + 3.0  # quiet for the linger after the last event, then done
    assert {row["title"] for i, row in stack.rows("sales").items() if i in {d["Id"] for d in deals[:3]}} == {
        "before the task", "while it lingers"}
    assert stack.inbox() and all(e["applied_at"] for e in stack.inbox())


def test_with_no_linger_the_applier_applies_what_is_pending_and_ends(registered: WebhookStack):
    from ploomes_sync.hooks.ploomes import PloomesHook
    from ploomes_sync.webhooks.apply import apply_until_quiet

    def sleep(seconds: float) -> None:
        raise AssertionError("a task without linger does not wait")

    with registered.connect() as conn, registered.connect() as reject_conn:
        applies = apply_until_quiet(hook=PloomesHook(), conn=conn, reject_conn=reject_conn,
                                    config=SyncConfig(webhook_linger_seconds=0), run_id="webhook__once",
                                    dag_id="ploomes_webhook_apply", sleep=sleep)
    assert [a.events for a in applies] == [0]


class TestTheAccountsModules:
    def test_a_stream_left_out_is_not_read_and_its_events_say_so(self, registered: WebhookStack):
        stack = registered
        order, deal = stack.sim.admin.truth("orders")[0], stack.sim.admin.truth_deals()[7]
        stack.sim.admin.update("orders", order["Id"], Amount=12.34)
        stack.sim.admin.update_deal(deal["Id"], Title="the deals are synced")
        stack.wait_for_deliveries(2)
        stack.sim.admin.clear_requests()
        without_orders = SyncConfig(streams=("fields", "options", "users", "pipelines", "stages", "loss_reasons",
                                             "contacts", "deals", "products", "quotes"))

        applied = stack.apply(config=without_orders)

        outcomes = {(e["stream"], e["record_id"]): e["outcome"] for e in stack.inbox()}
        assert outcomes[("orders", order["Id"])] == "stream not synced"
        assert outcomes[("deals", deal["Id"])] == "current" and applied.outcomes["current"] == 1
        assert all(entry["path"].lower() != "/orders" for entry in stack.sim.admin.requests())

    def test_a_refused_endpoint_fails_the_apply_naming_it_and_the_rest_lands(self, registered: WebhookStack):
        stack = registered
        order, deal = stack.sim.admin.truth("orders")[0], stack.sim.admin.truth_deals()[8]
        stack.sim.admin.update("orders", order["Id"], Amount=43.21)
        stack.sim.admin.update_deal(deal["Id"], Title="lands while orders are refused")
        stack.wait_for_deliveries(2)
        stack.sim.admin.configure(forbidden_paths="/Orders")

        with pytest.raises(StreamForbidden, match="/Orders"):
            stack.apply()

        outcomes = {(e["stream"], e["record_id"]): e["outcome"] for e in stack.inbox()}
        assert outcomes[("orders", order["Id"])] == "endpoint refused"
        assert stack.rows("sales")[deal["Id"]]["title"] == "lands while orders are refused"

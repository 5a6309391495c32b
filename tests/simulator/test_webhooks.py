"""The simulator speaks webhooks: /Webhooks, /Webhooks(<id>), /Webhooks@Actions, and deliveries of
every admin change with the validation key, duplicated, shuffled, delayed or dropped on demand."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from ploomes_simulator import RunningSimulator
from ploomes_simulator.webhooks import without_offsets

KEY = "validation-key-123456"


class Catcher:
    """A real HTTP server that keeps every POST it receives (key header and JSON body)."""

    def __init__(self) -> None:
        received = self.received = []
        release = self.release = threading.Event()  # clear it to hold each answer until it is set again
        release.set()

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                received.append((self.headers.get("X-Ploomes-Validation-Key"), body, time.time()))
                release.wait(10)
                self.send_response(202)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait(self, count: int, timeout: float = 10.0) -> list:
        deadline = time.monotonic() + timeout
        while len(self.received) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        return list(self.received)


@pytest.fixture
def catcher() -> Iterator[Catcher]:
    catcher = Catcher()
    yield catcher
    catcher.server.shutdown()


def subscribe(sim: RunningSimulator, api_key: str, url: str, entity: int, *actions: int) -> list[dict]:
    created = []
    for action in actions:
        answer = requests.post(f"{sim.url}/Webhooks", headers={"User-Key": api_key}, timeout=10, json={
            "EntityId": entity, "ActionId": action, "CallbackUrl": url, "ValidationKey": KEY})
        assert answer.status_code == 200, answer.text
        created.append(answer.json()["value"][0])
    return created


def test_actions_are_listed_and_webhooks_created_listed_and_deleted(sim: RunningSimulator, api_key: str):
    headers = {"User-Key": api_key}
    actions = requests.get(f"{sim.url}/Webhooks@Actions", headers=headers, timeout=10).json()["value"]
    assert {a["Name"]: a["Id"] for a in actions} == {"Create": 1, "Update": 2, "Delete": 3, "Win": 4, "Lose": 5}
    created = subscribe(sim, api_key, "https://receiver.example/hook", 2, 2)[0]
    assert created["EntityId"] == 2 and created["ActionId"] == 2 and created["Active"] is True
    listed = requests.get(f"{sim.url}/Webhooks", headers=headers, timeout=10).json()["value"]
    assert listed == [created]
    assert requests.delete(f"{sim.url}/Webhooks({created['Id']})", headers=headers, timeout=10).status_code == 204
    assert requests.delete(f"{sim.url}/Webhooks({created['Id']})", headers=headers, timeout=10).status_code == 404
    assert requests.get(f"{sim.url}/Webhooks", headers=headers, timeout=10).json()["value"] == []
    bad = requests.post(f"{sim.url}/Webhooks", headers=headers, timeout=10, json={"EntityId": 2, "ActionId": 99,
                                                                                  "CallbackUrl": "https://x"})
    assert bad.status_code == 400
    assert requests.get(f"{sim.url}/Webhooks", timeout=10).status_code == 403, "the key is required"


def test_every_admin_change_is_delivered_with_the_key(sim: RunningSimulator, api_key: str, catcher: Catcher):
    subscribe(sim, api_key, catcher.url, 2, 1, 2, 3, 4, 5)
    deal = next(d for d in sim.admin.truth_deals() if d["StatusId"] == 1)
    sim.admin.update_deal(deal["Id"], StatusId=2)
    sim.admin.delete_deal(deal["Id"])
    created = sim.admin.create_deal(Amount=10)
    received = catcher.wait(4)
    assert [(body["Action"], body["EntityId"], (body["New"] or body["Old"])["Id"]) for _, body, _ in received] == [
        ("Update", 2, deal["Id"]), ("Win", 2, deal["Id"]), ("Delete", 2, deal["Id"]), ("Create", 2, created["Id"])]
    assert {key for key, _, _ in received} == {KEY}
    update, _, delete, create = (body for _, body, _ in received)
    assert update["Old"]["StatusId"] == 1 and update["New"]["StatusId"] == 2
    assert delete["New"] is None and create["Old"] is None
    assert "-03:00" not in update["New"]["LastUpdateDate"], "dates come without an offset"


def test_contacts_deliver_to_contact_webhooks_only(sim: RunningSimulator, api_key: str, catcher: Catcher):
    subscribe(sim, api_key, catcher.url, 1, 2)
    sim.admin.update_deal(sim.admin.truth_deals()[0]["Id"], Title="no delivery")
    contact = sim.admin.truth_contacts()[0]
    sim.admin.update_contact(contact["Id"], Name="Renamed")
    received = catcher.wait(1)
    time.sleep(0.2)
    assert [(body["Entity"], body["New"]["Name"]) for _, body, _ in catcher.received] == [("Contact", "Renamed")]
    assert len(received) == 1


def test_a_delivery_on_its_way_counts_as_pending_until_it_is_logged(
        sim: RunningSimulator, api_key: str, catcher: Catcher):
    subscribe(sim, api_key, catcher.url, 2, 2)
    catcher.release.clear()
    sim.admin.update_deal(sim.admin.truth_deals()[0]["Id"], Title="on its way")
    catcher.wait(1)  # the receiver has it and has not answered
    assert sim.admin.delivery_state() == ([], 1), "an empty queue is not a settled delivery"
    catcher.release.set()
    deadline = time.monotonic() + 10
    while sim.admin.delivery_state()[1] and time.monotonic() < deadline:
        time.sleep(0.02)
    log, pending = sim.admin.delivery_state()
    assert pending == 0 and [entry["status"] for entry in log] == [202]


def test_drops_duplicates_delays_and_shuffling_are_knobs(sim: RunningSimulator, api_key: str, catcher: Catcher):
    subscribe(sim, api_key, catcher.url, 2, 2)
    ids = [d["Id"] for d in sim.admin.truth_deals()[:20]]
    sim.admin.configure(webhook_drop_percent=100)
    sim.admin.update_deal(ids[0], Title="dropped")
    assert sim.admin.deliveries()[-1]["dropped"] is True

    sim.admin.configure(webhook_drop_percent=0, webhook_duplicate_percent=100)
    sim.admin.update_deal(ids[1], Title="twice")
    assert [body["New"]["Title"] for _, body, _ in catcher.wait(2)] == ["twice", "twice"]

    catcher.received.clear()
    sim.admin.configure(webhook_duplicate_percent=0, webhook_delay_seconds=0.6)
    changed = time.time()
    sim.admin.update_deal(ids[2], Title="late")
    (_, _, arrived), = catcher.wait(1)
    assert arrived - changed >= 0.6

    catcher.received.clear()
    sim.admin.configure(webhook_shuffle=True, webhook_delay_seconds=1.0)
    for n, deal_id in enumerate(ids[3:18]):
        sim.admin.update_deal(deal_id, Title=f"change {n}")
    order = [int(body["New"]["Title"].split()[1]) for _, body, _ in catcher.wait(15)]
    assert sorted(order) == list(range(15)) and order != list(range(15)), "shuffled, none lost"


def test_without_offsets_keeps_the_wall_time():
    record = {"Id": 1, "CreateDate": "2024-03-01T10:20:30.1234567-03:00", "Other": "x-03:00", "When": "2024-03-01Z"}
    assert without_offsets(record) == {"Id": 1, "CreateDate": "2024-03-01T10:20:30.1234567",
                                       "Other": "x-03:00", "When": "2024-03-01Z"}

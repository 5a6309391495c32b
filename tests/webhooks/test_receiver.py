"""The receiver over real HTTP: a valid delivery is stored and answered 202; anything else is
refused with the right status and stores nothing; the key never reaches a log."""

from __future__ import annotations

import json
import logging

import pytest
import requests

from ploomes_sync.webhooks.receiver import MAX_BODY_BYTES
from tests.webhooks.conftest import WEBHOOK_KEY, WebhookStack


def delivery(entity: object = "Deal", record_id: object = 401, action: str = "Update", *, new: bool = True,
             old: bool = True) -> dict:
    record = {"Id": record_id, "Title": "x", "LastUpdateDate": "2026-12-01T10:00:00"}
    return {"Action": action, "Entity": entity, "New": record if new else None, "Old": record if old else None}


class TestValidDeliveries:
    def test_a_delivery_is_stored_durably_and_answered_202_with_its_inbox_id(self, stack: WebhookStack):
        answer = requests.post(stack.endpoint, json=delivery(record_id=77), headers=stack.headers(), timeout=10)
        assert answer.status_code == 202, answer.text
        stored = stack.inbox()
        assert [(e["id"], e["stream"], e["record_id"], e["action"], e["applied_at"]) for e in stored] == [
            (answer.json()["id"], "deals", 77, "Update", None)]
        assert stored[0]["payload"]["New"]["Title"] == "x"  # kept as received, for audit

    @pytest.mark.parametrize(("body", "stream", "record_id"), [
        (delivery("Contact", 5, "Create", old=False), "contacts", 5),
        (delivery(1, "6", "Delete", new=False), "contacts", 6),
        ({"ActionId": 4, "EntityId": 2, "New": {"Id": 8}, "Old": {"Id": 8}}, "deals", 8),
        (delivery("Negócio", 9), "deals", 9),
        (delivery({"Id": 2, "Name": "Deal"}, 10), "deals", 10),
    ])
    def test_every_shape_of_entity_and_id_ploomes_may_send_is_understood(self, stack, body, stream, record_id):
        answer = requests.post(stack.endpoint, json=body, headers=stack.headers(), timeout=10)
        assert answer.status_code == 202, answer.text
        assert [(e["stream"], e["record_id"]) for e in stack.inbox()] == [(stream, record_id)]


class TestRefused:
    @pytest.mark.parametrize(("key", "status"), [(None, 401), ("", 401), ("wrong-key", 403),
                                                  (WEBHOOK_KEY[:-1], 403), (WEBHOOK_KEY + "x", 403)])
    def test_a_missing_or_wrong_key_is_refused_and_nothing_is_stored(self, stack, key, status):
        headers = {} if key is None else {"X-Ploomes-Validation-Key": key}
        answer = requests.post(stack.endpoint, json=delivery(), headers=headers, timeout=10)
        assert answer.status_code == status, answer.text
        assert stack.inbox() == []

    @pytest.mark.parametrize(("body", "status"), [
        (b"not json", 400),
        (b'{"Entity": "Deal", "New": {"Id": NaN}}', 400),
        (b"[1, 2]", 422),
        (json.dumps(delivery("Task")).encode(), 422),
        (json.dumps(delivery(12)).encode(), 422),
        (json.dumps({"Entity": "Deal"}).encode(), 422),
        (json.dumps(delivery(record_id="abc")).encode(), 422),
        (json.dumps(delivery(record_id=-3)).encode(), 422),
        (json.dumps({"Entity": "Deal", "New": "x"}).encode(), 422),
    ])
    def test_a_body_that_is_not_a_delivery_is_refused_and_nothing_is_stored(self, stack, body, status):
        answer = requests.post(stack.endpoint, data=body, headers=stack.headers(), timeout=10)
        assert answer.status_code == status, answer.text
        assert "Not a Ploomes delivery" in answer.json()["detail"]
        assert stack.inbox() == []

    def test_a_body_over_the_size_limit_is_refused_even_without_a_content_length(self, stack):
        big = json.dumps({**delivery(), "Padding": "x" * MAX_BODY_BYTES}).encode()
        answer = requests.post(stack.endpoint, data=big, headers=stack.headers(), timeout=10)
        assert answer.status_code == 413
        chunked = requests.post(stack.endpoint, data=iter([big[:1000], big[1000:]]), headers=stack.headers(),
                                timeout=10)  # a generator body is sent chunked: no Content-Length
        assert chunked.status_code == 413
        assert stack.inbox() == []

    def test_without_the_webhook_connection_deliveries_are_refused_with_503(self, stack, monkeypatch):
        monkeypatch.delenv("AIRFLOW_CONN_PLOOMES_WEBHOOK")
        from ploomes_devkit.webhook_stack import ReceiverServer
        from ploomes_sync.web.app import create_app

        with ReceiverServer(create_app()) as receiver:
            answer = requests.post(f"{receiver.app_url}/webhooks", json=delivery(), headers=stack.headers(),
                                   timeout=10)
        assert answer.status_code == 503
        assert stack.inbox() == []

    def test_when_the_inbox_cannot_be_written_the_answer_is_503_not_202(self, stack, monkeypatch):
        with stack.connect(autocommit=True) as conn:
            conn.execute("ALTER TABLE ploomes_sync.webhook_inbox RENAME TO webhook_inbox_away")
        try:
            answer = requests.post(stack.endpoint, json=delivery(), headers=stack.headers(), timeout=10)
        finally:
            with stack.connect(autocommit=True) as conn:
                conn.execute("ALTER TABLE ploomes_sync.webhook_inbox_away RENAME TO webhook_inbox")
        assert answer.status_code == 503
        assert "send it again" in answer.json()["detail"]


def test_the_key_never_appears_in_the_logs(stack: WebhookStack, caplog: pytest.LogCaptureFixture):
    caplog.set_level(logging.DEBUG)
    for key in (WEBHOOK_KEY, "wrong", None):
        requests.post(stack.endpoint, json=delivery(), headers=stack.headers(key), timeout=10)
    requests.post(stack.endpoint, data=b"{", headers=stack.headers(), timeout=10)
    assert caplog.records, "the receiver logs what it refuses"
    assert WEBHOOK_KEY not in caplog.text


def test_the_other_routes_of_the_app_are_not_open(stack: WebhookStack):
    base = stack.receiver.app_url
    for path in ("/health", "/health.json", "/metrics", "/static/plotly.min.js"):
        assert requests.get(base + path, timeout=10).status_code == 401, path
    for path in ("/docs", "/openapi.json", "/redoc"):
        assert requests.get(base + path, timeout=10).status_code == 404, path

"""The receiver under abuse: a short key is no key, a body has a deadline, a client that goes away
is let go quietly, a storm of wrong keys makes one log line a minute, and parsing never blocks
the event loop."""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import requests

from ploomes_sync.webhooks import receiver
from tests.webhooks.conftest import WEBHOOK_KEY, WebhookStack
from tests.webhooks.test_receiver import delivery


@contextmanager
def records_of(name: str) -> Iterator[list[logging.LogRecord]]:
    """Every record logger ``name`` (or its children) emits meanwhile, whatever propagates."""
    got: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            got.append(record)

    handler, logger = Keep(logging.DEBUG), logging.getLogger(name)
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        yield got
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def raw_request(stack: WebhookStack, head_only: bytes, declared: int) -> socket.socket:
    """A connection that sent a delivery's headers (declaring ``declared`` bytes) and ``head_only`` of it."""
    host, port = stack.receiver.url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=10)
    sock.sendall(f"POST /ploomes-sync/webhooks HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
                 f"X-Ploomes-Validation-Key: {WEBHOOK_KEY}\r\nContent-Length: {declared}\r\n\r\n".encode() + head_only)
    return sock


def test_a_validation_key_shorter_than_16_characters_is_no_key(stack: WebhookStack,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    short = "only-15-chars.."
    monkeypatch.setenv("AIRFLOW_CONN_PLOOMES_WEBHOOK", json.dumps(
        {"conn_type": "http", "host": stack.receiver.url, "password": short}))
    from ploomes_devkit.webhook_stack import ReceiverServer
    from ploomes_sync.web.app import create_app

    with records_of("ploomes_sync.webhooks") as logged, ReceiverServer(create_app()) as other:
        answer = requests.post(f"{other.app_url}/webhooks", json=delivery(), headers=stack.headers(short), timeout=10)

    assert answer.status_code == 503 and stack.inbox() == []
    assert any("too short" in record.getMessage() and "16" in record.getMessage() for record in logged)


def test_a_body_that_does_not_arrive_whole_in_time_is_refused(stack: WebhookStack,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(receiver, "BODY_SECONDS", 0.5)
    body = json.dumps(delivery()).encode()
    with raw_request(stack, body[:10], len(body)) as sock:  # the rest never comes
        answer = sock.recv(4096).decode()
    assert answer.startswith("HTTP/1.1 408") and "within 0.5 seconds" in answer
    assert stack.inbox() == []


def test_a_client_that_goes_away_mid_body_is_let_go_without_a_traceback(stack: WebhookStack,
                                                                         caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    body = json.dumps(delivery()).encode()
    for _ in range(3):
        sock = raw_request(stack, body[:20], len(body))
        sock.close()
    time.sleep(1)
    noisy = [f"{r.name}: {r.getMessage()}" for r in caplog.records if r.levelno >= logging.INFO]
    assert noisy == []
    assert requests.post(stack.endpoint, json=delivery(), headers=stack.headers(), timeout=10).status_code == 202
    assert len(stack.inbox()) == 1


def test_a_storm_of_wrong_keys_is_logged_once_a_minute_with_a_count(stack: WebhookStack) -> None:
    with records_of("ploomes_sync.webhooks") as logged:
        statuses = {requests.post(stack.endpoint, json=delivery(), headers=stack.headers(f"guess-{n:04d}-xxxxxxxxx"),
                                  timeout=10).status_code for n in range(200)}
    assert statuses == {403}
    warnings = [r.getMessage() for r in logged if r.levelno >= logging.WARNING]
    assert len(warnings) == 1 and "wrong validation key" in warnings[0]


def test_a_delivery_is_parsed_off_the_event_loop(stack: WebhookStack, monkeypatch: pytest.MonkeyPatch) -> None:
    on_the_loop: list[bool] = []
    parse = receiver.parse

    def watched(body: bytes):  # noqa: ANN202 - whatever parse returns
        try:
            asyncio.get_running_loop()
            on_the_loop.append(True)
        except RuntimeError:  # no loop runs in this thread
            on_the_loop.append(False)
        return parse(body)

    monkeypatch.setattr(receiver, "parse", watched)
    answer = requests.post(stack.endpoint, json=delivery(), headers=stack.headers(), timeout=10)
    assert answer.status_code == 202 and on_the_loop == [False]

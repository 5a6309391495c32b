"""``POST /ploomes-sync/webhooks``: where Ploomes delivers changes. Open by design, guarded by the key.

The validation key is the password of connection ``ploomes_webhook`` (its host is the public base
URL Ploomes calls), compared in constant time with the ``X-Ploomes-Validation-Key`` header:
missing, 401; wrong, 403. A configured key shorter than 16 characters is no key (503, and the log
says so). A body over the size limit is 413, one that does not arrive whole within 10 seconds 408,
one that is not JSON (or nested too deeply to parse) 400, one that is not a delivery of a synced
entity 422; nothing is stored in those cases, and no body of any shape gets a 5xx. A valid
delivery is committed to ``ploomes_sync.webhook_inbox`` and answered 202 with its inbox id:
nothing else happens in the request (no Ploomes call, no merge), and once answered it is never
lost. When the inbox cannot be written the answer is 503, so a sender that retries will.

Under abuse: the body is parsed off the event loop; a client gone in the middle of its body is let
go without a word above DEBUG; wrong keys are logged at most once a minute, with how many came.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import threading
import time

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from starlette.requests import ClientDisconnect

from ploomes_sync.settings import WEBHOOK_CONN_ID
from ploomes_sync.settings import WEBHOOK_MIN_KEY_LENGTH as MIN_KEY_LENGTH
from ploomes_sync.warehouse import inbox
from ploomes_sync.warehouse.pool import WarehousePool
from ploomes_sync.webhooks.delivery import NotADelivery, parse

log = logging.getLogger(__name__)

KEY_HEADER = "X-Ploomes-Validation-Key"
MAX_BODY_BYTES = 512 * 1024  # a delivery carries two versions of one record: a few kilobytes
BODY_SECONDS = 10.0  # a body must arrive whole within this
KEY_REREAD_SECONDS = 30.0  # a rotated key is in force this soon
LOG_EVERY_SECONDS = 60.0  # wrong keys are logged at most this often, with a count


class EveryMinute:
    """Counts an event and lets it be logged at most once every ``LOG_EVERY_SECONDS``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._count = 0
        self._logged_at = float("-inf")

    def count(self) -> int:
        """The events since the last one logged, this one included, when it is time to log; else 0."""
        with self._lock:
            self._count += 1
            if time.monotonic() - self._logged_at < LOG_EVERY_SECONDS:
                return 0
            count, self._count, self._logged_at = self._count, 0, time.monotonic()
            return count


class WebhookKey:
    """The validation key (the password of connection ``ploomes_webhook``), read again every 30 s."""

    def __init__(self, conn_id: str = WEBHOOK_CONN_ID) -> None:
        self.conn_id = conn_id
        self._lock = threading.Lock()
        self._key: bytes | None = None
        self._read_at = float("-inf")

    def get(self) -> bytes | None:
        """The key, or None when the connection is missing or has no password (a key shorter than
        ``MIN_KEY_LENGTH`` is taken, and :meth:`receive` refuses to use it)."""
        with self._lock:
            if time.monotonic() - self._read_at >= KEY_REREAD_SECONDS:
                from airflow.sdk import BaseHook
                from airflow.sdk.exceptions import AirflowNotFoundException

                try:
                    password = BaseHook.get_connection(self.conn_id).password
                except AirflowNotFoundException:
                    password = None
                self._key = password.encode() if password else None
                self._read_at = time.monotonic()
            return self._key


def _error(status: int, detail: str) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=status)


def receiver_router(pool: WarehousePool, key: WebhookKey | None = None) -> APIRouter:
    router = APIRouter()
    webhook_key = key or WebhookKey()
    wrong_keys, not_configured = EveryMinute(), EveryMinute()

    @router.post("/webhooks", status_code=202)
    async def receive(request: Request) -> JSONResponse:
        expected = await run_in_threadpool(webhook_key.get)
        if expected is None or len(expected) < MIN_KEY_LENGTH:
            if not_configured.count():
                why = "has no password (the validation key)" if expected is None else "has a validation key too short"
                log.error("Webhook deliveries arrive but connection %s %s: refused with 503. Set a key of at least "
                          "%s characters as its password and run the DAG ploomes_webhook_setup.", webhook_key.conn_id,
                          why, MIN_KEY_LENGTH)
            return _error(503, "Webhooks are not configured on this server.")
        given = request.headers.get(KEY_HEADER)
        if not given:
            return _error(401, f"Missing {KEY_HEADER} header.")
        if not hmac.compare_digest(given.encode(), expected):
            refused = wrong_keys.count()
            if refused:
                log.warning("Refused %s webhook deliveries with a wrong validation key (403) in the last minute, "
                            "the latest from %s", refused, request.client.host if request.client else "?")
            return _error(403, "Wrong validation key.")

        declared = request.headers.get("content-length")
        if declared is not None and not (declared.isascii() and declared.isdigit() and int(declared) <= MAX_BODY_BYTES):
            return _error(413, f"A delivery is at most {MAX_BODY_BYTES} bytes.")
        body = bytearray()
        try:
            async with asyncio.timeout(BODY_SECONDS):
                async for chunk in request.stream():
                    body += chunk
                    if len(body) > MAX_BODY_BYTES:
                        return _error(413, f"A delivery is at most {MAX_BODY_BYTES} bytes.")
        except TimeoutError:
            return _error(408, f"The delivery did not arrive whole within {BODY_SECONDS:g} seconds.")
        except ClientDisconnect:
            log.debug("A webhook client went away in the middle of its body (%s bytes came)", len(body))
            return _error(400, "The client went away.")
        try:
            delivery = await run_in_threadpool(parse, bytes(body))
        except NotADelivery as exc:
            log.warning("Refused a webhook body (%s): %s", exc.status, exc)
            return _error(exc.status, f"Not a Ploomes delivery: {exc}.")

        def store() -> int:
            with pool.connection() as conn:
                return inbox.store(conn, stream=delivery.stream, record_id=delivery.record_id,
                                   action=delivery.action, payload=delivery.payload)

        try:
            event_id = await run_in_threadpool(store)
        except Exception as exc:  # noqa: BLE001 - whatever failed, the sender must hear 503, not 500
            log.error("Could not store a webhook delivery (%s %s): %s: %s", delivery.stream, delivery.record_id,
                      type(exc).__name__, exc)
            return _error(503, "The delivery could not be stored; send it again.")
        log.info("Webhook event %s stored: %s %s (%s)", event_id, delivery.stream, delivery.record_id,
                 delivery.action)
        return JSONResponse({"id": event_id, "stream": delivery.stream, "record_id": delivery.record_id},
                            status_code=202)

    return router

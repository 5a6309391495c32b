"""Webhooks as the simulator speaks them: ``/Webhooks`` (list, create), ``/Webhooks(<id>)`` (delete),
``/Webhooks@Actions``, and deliveries of every change made through the admin endpoints.

A delivery is a POST of ``{"Action", "ActionId", "Entity", "EntityId", "WebhookId", "New", "Old"}``
(``New`` null for a deletion, ``Old`` null for a creation; dates without an offset, as Ploomes
sends them) with the header ``X-Ploomes-Validation-Key``. Each leaves from a background thread,
``webhook_delay_seconds`` after the change (with ``webhook_shuffle``, a random part of it, so they
overtake each other); ``webhook_drop_percent`` of them are never sent and
``webhook_duplicate_percent`` are sent twice. Nothing is retried. The delivery log says what
happened to each (``/_admin/webhooks``).
"""

from __future__ import annotations

import heapq
import json
import logging
import random
import re
import threading
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass
from typing import Any

from .data import STATUS_LOST, STATUS_WON

log = logging.getLogger(__name__)

KEY_HEADER = "X-Ploomes-Validation-Key"
# (Id, Name) as GET /Webhooks@Actions lists them.
ACTIONS = ((1, "Create"), (2, "Update"), (3, "Delete"), (4, "Win"), (5, "Lose"))
ACTION_IDS = {name: action_id for action_id, name in ACTIONS}
# The Entity a delivery names: singular for contacts and deals, plural for orders, quotes and
# products, as deliveries captured in the wild carry them.
ENTITIES = {1: "Contact", 2: "Deal", 4: "Orders", 7: "Quotes", 10: "Products", 12: "Task"}
ENTITY_OF_TABLE = {"contacts": 1, "deals": 2, "orders": 4, "quotes": 7, "products": 10}
SEND_TIMEOUT_SECONDS = 10.0
_OFFSET = re.compile(r"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?)(?:Z|[+-]\d{2}:\d{2})$")


class WebhookError(ValueError):
    """A webhook request the API refuses (400)."""


@dataclass
class Webhook:
    Id: int
    EntityId: int
    ActionId: int
    CallbackUrl: str
    ValidationKey: str
    Active: bool = True


def without_offsets(record: dict[str, Any] | None) -> dict[str, Any] | None:
    """The record with every date written without its offset (the wall time it had)."""
    if record is None:
        return None
    return {key: _OFFSET.sub(r"\1", value) if isinstance(value, str) else value for key, value in record.items()}


class Webhooks:
    """The registered webhooks and the deliveries on their way."""

    def __init__(self, settings: Any, seed: int) -> None:
        self._settings = settings  # a callable answering the current SimulatorConfig
        self._lock = threading.Condition()
        self._hooks: dict[int, Webhook] = {}
        self._next_id = 9001
        self._rng = random.Random(f"webhooks-{seed}")
        self._queue: list[tuple[float, int, dict[str, Any]]] = []
        self._seq = 0
        self._log: list[dict[str, Any]] = []
        self._sending = 0  # popped from the queue, not yet in the log
        self._stopped = False
        self._thread = threading.Thread(target=self._deliver_forever, name="ploomes-webhooks", daemon=True)
        self._thread.start()

    # --- the API -----------------------------------------------------------------------------

    def list(self) -> list[dict[str, Any]]:
        with self._lock:
            return [asdict(hook) for hook in self._hooks.values()]

    def create(self, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise WebhookError("The body must be a JSON object.")
        entity, action, url, key = (body.get(k) for k in ("EntityId", "ActionId", "CallbackUrl", "ValidationKey"))
        if type(entity) is not int or entity not in ENTITIES:
            raise WebhookError(f"Invalid EntityId {entity!r}.")
        if type(action) is not int or action not in dict(ACTIONS):
            raise WebhookError(f"Invalid ActionId {action!r}.")
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise WebhookError(f"Invalid CallbackUrl {url!r}.")
        if key is not None and not isinstance(key, str):
            raise WebhookError("ValidationKey must be a string.")
        with self._lock:
            hook = Webhook(self._next_id, entity, action, url, key or "")
            self._next_id += 1
            self._hooks[hook.Id] = hook
            return asdict(hook)

    def delete(self, hook_id: int) -> bool:
        with self._lock:
            return self._hooks.pop(hook_id, None) is not None

    def clear(self) -> None:
        """Forget every webhook, pending delivery and log entry."""
        with self._lock:
            self._hooks.clear()
            self._queue.clear()
            self._log.clear()

    def snapshot(self) -> tuple[list[dict[str, Any]], int]:
        """The delivery log and how many deliveries are not in it yet (queued or being sent), read
        together, so a caller never sees an empty queue while the last delivery is on its way."""
        with self._lock:
            return [dict(entry) for entry in self._log], len(self._queue) + self._sending

    # --- changes -----------------------------------------------------------------------------

    def emit(self, table: str, action: str, old: dict[str, Any] | None, new: dict[str, Any] | None) -> None:
        """Queue the deliveries of one change of a record of ``table`` (users have none)."""
        entity = ENTITY_OF_TABLE.get(table)
        if entity is None:
            return
        action_id = ACTION_IDS[action]
        settings = self._settings()
        changed_at = time.time()
        with self._lock:
            for hook in self._hooks.values():
                if not hook.Active or hook.EntityId != entity or hook.ActionId != action_id:
                    continue
                delivery = {"Action": action, "ActionId": action_id, "Entity": ENTITIES[entity], "EntityId": entity,
                            "WebhookId": hook.Id, "New": without_offsets(new), "Old": without_offsets(old)}
                record_id = (new or old or {}).get("Id")
                envelope = {"url": hook.CallbackUrl, "key": hook.ValidationKey, "body": delivery,
                            "changed_at": changed_at, "record_id": record_id, "entity": table, "action": action}
                if self._rng.uniform(0, 100) < settings.webhook_drop_percent:
                    self._log.append({**_summary(envelope), "status": None, "dropped": True})
                    continue
                copies = 2 if self._rng.uniform(0, 100) < settings.webhook_duplicate_percent else 1
                for _ in range(copies):
                    delay = settings.webhook_delay_seconds
                    if settings.webhook_shuffle:
                        delay = self._rng.uniform(0, delay)
                    self._seq += 1
                    heapq.heappush(self._queue, (changed_at + delay, self._seq, envelope))
            self._lock.notify_all()

    def record_changes(self, table: str, old: dict[str, Any] | None, new: dict[str, Any] | None) -> None:
        """Emit what a change amounts to: Create, Delete, or Update (and Win or Lose when a deal's
        status moves to won or lost)."""
        if old is None:
            self.emit(table, "Create", None, new)
            return
        if new is None:
            self.emit(table, "Delete", old, None)
            return
        self.emit(table, "Update", old, new)
        if table == "deals" and old.get("StatusId") != new.get("StatusId"):
            if new.get("StatusId") == STATUS_WON:
                self.emit(table, "Win", old, new)
            elif new.get("StatusId") == STATUS_LOST:
                self.emit(table, "Lose", old, new)

    # --- delivery ----------------------------------------------------------------------------

    def _deliver_forever(self) -> None:
        while True:
            with self._lock:
                while not self._stopped and (not self._queue or self._queue[0][0] > time.time()):
                    timeout = None if not self._queue else max(0.0, self._queue[0][0] - time.time())
                    self._lock.wait(timeout)
                if self._stopped:
                    return
                _, _, envelope = heapq.heappop(self._queue)
                self._sending += 1
            self._send(envelope)

    def _send(self, envelope: dict[str, Any]) -> None:
        data = json.dumps(envelope["body"]).encode()
        request = urllib.request.Request(envelope["url"], data=data, method="POST", headers={
            "Content-Type": "application/json", KEY_HEADER: envelope["key"]})
        status: int | None
        error = None
        started = time.time()
        try:
            opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
            with opener.open(request, timeout=SEND_TIMEOUT_SECONDS) as response:
                status = response.status
        except urllib.error.HTTPError as exc:
            status = exc.code
        except OSError as exc:
            status, error = None, f"{type(exc).__name__}: {exc}"
        entry = {**_summary(envelope), "status": status, "dropped": False, "sent_at": started,
                 "answered_at": time.time(), "error": error}
        with self._lock:
            self._log.append(entry)
            self._sending -= 1
        if status is None or status >= 300:
            log.info("Webhook delivery to %s answered %s %s", envelope["url"], status, error or "")

    def stop(self) -> None:
        with self._lock:
            self._stopped = True
            self._lock.notify_all()


def _summary(envelope: dict[str, Any]) -> dict[str, Any]:
    return {"url": envelope["url"], "entity": envelope["entity"], "action": envelope["action"],
            "record_id": envelope["record_id"], "changed_at": envelope["changed_at"]}

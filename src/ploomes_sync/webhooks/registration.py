"""Register (idempotently) and remove the webhooks that point Ploomes at the receiver.

Connection ``ploomes_webhook``: host = the public base URL Ploomes must call (the receiver is at
``<host>/ploomes-sync/webhooks``), password = the validation key Ploomes sends back with every
delivery. The actions are read from ``GET /Webhooks@Actions`` by name, never hard-coded: deals get
every action listed, contacts every one but those only deals have (win, lose).

Registering compares what ``GET /Webhooks`` lists for our callback URL with what should be there:
missing webhooks are created, those with another validation key (a rotated key) replaced,
duplicates removed; running it again changes nothing.
"""

from __future__ import annotations

import logging
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ploomes_sync.api.errors import PloomesError
from ploomes_sync.hooks.ploomes import PloomesHook
from ploomes_sync.settings import URL_PREFIX, WEBHOOK_CONN_ID
from ploomes_sync.settings import WEBHOOK_MIN_KEY_LENGTH as MIN_KEY_LENGTH
from ploomes_sync.streams import Registry, registry
from ploomes_sync.webhooks.delivery import ENTITY_IDS

log = logging.getLogger(__name__)

RECEIVER_PATH = f"{URL_PREFIX}/webhooks"
# Actions only an entity that is won and lost has (Stream.won_and_lost): not registered for the others.
WON_AND_LOST_ACTIONS = {"win", "won", "lose", "lost", "ganho", "ganhar", "perda", "perder", "perdido"}
ENTITY_NAMES = {entity_id: name for name, entity_id in ENTITY_IDS.items()}


class WebhookSetupError(PloomesError):
    """The webhooks could not be set up (the message says what to fix)."""


@dataclass
class Setup:
    """What a registration (or removal) did."""

    callback_url: str
    created: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"callback_url": self.callback_url, "created": self.created, "kept": self.kept,
                "replaced": self.replaced, "removed": self.removed}


def _plain(name: str) -> str:
    decomposed = unicodedata.normalize("NFKD", str(name).strip().lower())
    return "".join(char for char in decomposed if not unicodedata.combining(char))


def receiver_settings(conn_id: str = WEBHOOK_CONN_ID) -> tuple[str, str]:
    """The callback URL and the validation key, from connection ``conn_id``."""
    from airflow.sdk import BaseHook
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        connection = BaseHook.get_connection(conn_id)
    except AirflowNotFoundException:
        raise WebhookSetupError(
            f"Connection {conn_id!r} does not exist. Create it: host = the public https base URL of the Airflow "
            f"API server as Ploomes reaches it (the receiver is <host>{RECEIVER_PATH}), password = a long random "
            "validation key (e.g. python -c 'import secrets; print(secrets.token_urlsafe(32))').") from None
    host = (connection.host or "").strip().rstrip("/")
    if "://" not in host:
        host = f"{connection.schema or 'https'}://{host}" if host else ""
    if connection.port:
        host = f"{host}:{connection.port}"
    key = connection.password or ""
    if not host:
        raise WebhookSetupError(f"Connection {conn_id!r} has no host: set it to the public base URL Ploomes must "
                                f"call (the receiver is <host>{RECEIVER_PATH}).")
    if len(key) < MIN_KEY_LENGTH:
        raise WebhookSetupError(f"The password of connection {conn_id!r} (the validation key) must be at least "
                                f"{MIN_KEY_LENGTH} characters: use a long random key.")
    return f"{host}{RECEIVER_PATH}", key


def _actions(hook: PloomesHook) -> list[dict[str, Any]]:
    payload = hook.fetch("Webhooks@Actions", {})
    actions = [a for a in payload["value"] if isinstance(a, dict) and type(a.get("Id")) is int]
    if not actions:
        raise WebhookSetupError("GET /Webhooks@Actions listed no action: cannot tell which webhooks to register.")
    return actions


def wanted(actions: Iterable[dict[str, Any]], streams: Registry | None = None) -> dict[tuple[int, int], str]:
    """(EntityId, ActionId) -> a label, for every action of every stream that has webhooks."""
    result = {}
    with_webhooks = [stream for stream in streams or registry() if stream.webhook_entity_id is not None]
    for action in actions:
        name = str(action.get("Name") or action["Id"])
        entity = action.get("EntityId")
        for stream in with_webhooks:
            if entity is not None and entity != stream.webhook_entity_id:
                continue
            if not stream.won_and_lost and entity is None and _plain(name) in WON_AND_LOST_ACTIONS:
                continue
            result[(stream.webhook_entity_id, action["Id"])] = f"{stream.name}/{name}"
    return result


def _ours(hook: PloomesHook, callback_url: str) -> list[dict[str, Any]]:
    return [w for w in hook.fetch("Webhooks", {})["value"]
            if isinstance(w, dict) and str(w.get("CallbackUrl", "")).rstrip("/") == callback_url]


def _call(hook: PloomesHook, what: str, method: str, endpoint: str, body: dict[str, Any] | None = None) -> Any:
    try:
        return hook.write(method, endpoint, body)
    except PloomesError as exc:
        raise WebhookSetupError(f"Ploomes refused to {what}: {exc}") from exc


def register(hook: PloomesHook, callback_url: str, key: str, streams: Registry | None = None) -> Setup:
    """Make Ploomes' webhooks for ``callback_url`` exactly the wanted ones (of ``streams``, by default
    the registry's), with ``key``."""
    setup = Setup(callback_url)
    want = wanted(_actions(hook), streams)
    found: dict[tuple[int, int], list[dict[str, Any]]] = {}
    for webhook in _ours(hook, callback_url):
        found.setdefault((webhook.get("EntityId"), webhook.get("ActionId")), []).append(webhook)
    for pair, webhooks in found.items():
        label = want.get(pair, f"entity {pair[0]}/action {pair[1]}")
        current = [w for w in webhooks if w.get("ValidationKey") in (None, key)] if pair in want else []
        keep = current[0] if current else None
        for webhook in webhooks:
            if webhook is not keep:
                _call(hook, f"remove webhook {webhook['Id']} ({label})", "DELETE", f"Webhooks({webhook['Id']})")
        if keep is not None:
            setup.kept.append(label)
            setup.removed += [label] * (len(webhooks) - 1)
        elif pair in want:  # only webhooks with an older key: replaced below
            setup.replaced.append(label)
        else:
            setup.removed += [label] * len(webhooks)
    for pair, label in sorted(want.items()):
        if pair not in found or label in setup.replaced:
            _create(hook, pair, callback_url, key, label)
            if label not in setup.replaced:
                setup.created.append(label)
    log.info("Webhooks for %s: %s created, %s kept, %s replaced (new key), %s removed", callback_url,
             len(setup.created), len(setup.kept), len(setup.replaced), len(setup.removed))
    return setup


def _create(hook: PloomesHook, pair: tuple[int, int], callback_url: str, key: str, label: str) -> None:
    body = {"EntityId": pair[0], "ActionId": pair[1], "CallbackUrl": callback_url, "ValidationKey": key}
    _call(hook, f"register the webhook {label}", "POST", "Webhooks", body)


def remove(hook: PloomesHook, callback_url: str) -> Setup:
    """Remove every webhook Ploomes has for ``callback_url``."""
    setup = Setup(callback_url)
    for webhook in _ours(hook, callback_url):
        label = f"{ENTITY_NAMES.get(webhook.get('EntityId'), webhook.get('EntityId'))}/action {webhook.get('ActionId')}"
        _call(hook, f"remove webhook {webhook['Id']} ({label})", "DELETE", f"Webhooks({webhook['Id']})")
        setup.removed.append(label)
    log.info("Webhooks for %s: %s removed", callback_url, len(setup.removed))
    return setup

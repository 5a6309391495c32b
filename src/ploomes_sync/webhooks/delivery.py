"""What a Ploomes webhook delivery is, read from its body, and why a body is not one.

A delivery is a JSON object ``{"Action", "Entity", "New", "Old", ...}``: ``New`` is null for a
deletion, ``Old`` for a creation. Only the entity and the record's Id are taken from it; the
applier re-reads the record by Id and never trusts the payload's values or dates.
"""

from __future__ import annotations

import json
import unicodedata
from dataclasses import dataclass
from typing import Any

#: Ploomes' EntityId of each stream (1 contact, 2 deal).
ENTITY_IDS = {"contacts": 1, "deals": 2}
_STREAM_OF_ID = {entity_id: stream for stream, entity_id in ENTITY_IDS.items()}
_STREAM_OF_NAME = {
    "contact": "contacts", "contacts": "contacts", "cliente": "contacts", "clientes": "contacts",
    "deal": "deals", "deals": "deals", "negocio": "deals", "negocios": "deals",
}
MAX_ID = 2**63 - 1


class NotADelivery(ValueError):
    """The body is not a delivery we can act on (the message says why)."""


@dataclass(frozen=True)
class Delivery:
    """One delivery: which stream and record it concerns, and the action Ploomes named."""

    stream: str  # "deals" or "contacts"
    record_id: int
    action: str | None
    payload: dict[str, Any]


def _plain(name: str) -> str:
    """Lower case, accents removed ("Negócio" -> "negocio")."""
    decomposed = unicodedata.normalize("NFKD", name.strip().lower())
    return "".join(char for char in decomposed if not unicodedata.combining(char))


def _stream(payload: dict[str, Any]) -> str:
    for key in ("Entity", "EntityId"):
        value = payload.get(key)
        if isinstance(value, bool) or value is None:
            continue
        if isinstance(value, int) and value in _STREAM_OF_ID:
            return _STREAM_OF_ID[value]
        if isinstance(value, str):
            text = value.strip()
            if text.isdigit() and int(text) in _STREAM_OF_ID:
                return _STREAM_OF_ID[int(text)]
            if _plain(text) in _STREAM_OF_NAME:
                return _STREAM_OF_NAME[_plain(text)]
        if isinstance(value, dict):  # {"Id": 2, "Name": "Deal"}
            nested = {k: v for k, v in value.items() if k in ("Id", "Name")}
            for inner in (nested.get("Id"), nested.get("Name")):
                try:
                    return _stream({"Entity": inner})
                except NotADelivery:
                    continue
    shown = {key: payload.get(key) for key in ("Entity", "EntityId") if key in payload}
    raise NotADelivery(f"unknown or missing entity {json.dumps(shown, default=str)[:200]}: only deals "
                       f"(EntityId {ENTITY_IDS['deals']}) and contacts (EntityId {ENTITY_IDS['contacts']}) "
                       "are synced")


def _record_id(payload: dict[str, Any]) -> int:
    for side in ("New", "Old"):
        record = payload.get(side)
        if record is None:
            continue
        if not isinstance(record, dict):
            raise NotADelivery(f"{side} must be an object or null, got {type(record).__name__}")
        value = record.get("Id")
        if type(value) is int and 0 < value <= MAX_ID:
            return value
        if isinstance(value, str) and value.isdigit() and 0 < int(value) <= MAX_ID:
            return int(value)
        raise NotADelivery(f"{side}.Id must be a positive integer, got {str(value)[:50]!r}")
    raise NotADelivery("New and Old are both missing or null: the delivery names no record")


def _action(payload: dict[str, Any]) -> str | None:
    for key in ("Action", "ActionId"):
        value = payload.get(key)
        if isinstance(value, str | int) and not isinstance(value, bool):
            return str(value)[:50]
        if isinstance(value, dict) and isinstance(value.get("Name"), str):
            return value["Name"][:50]
    return None


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def parse(body: bytes) -> Delivery:
    """The delivery in ``body``; :class:`NotADelivery` when it is not one."""
    try:
        payload = json.loads(body, parse_constant=_no_constant)
    except (ValueError, UnicodeDecodeError) as exc:
        raise NotADelivery(f"the body is not JSON ({exc.__class__.__name__})") from None
    if not isinstance(payload, dict):
        raise NotADelivery(f"the body must be a JSON object, got {type(payload).__name__}")
    return Delivery(stream=_stream(payload), record_id=_record_id(payload), action=_action(payload),
                    payload=payload)

"""What a Ploomes webhook delivery is, read from its body, and why a body is not one.

A delivery is a JSON object ``{"Action", "Entity", "New", "Old", ...}``: ``New`` is null for a
deletion, ``Old`` for a creation. Only the entity and the record's Id are taken from it; the
applier re-reads the record by Id and never trusts the payload's values or dates.

Whatever the bytes, :func:`parse` returns a delivery whose payload PostgreSQL can store (no NUL,
no lone surrogate, at most ``MAX_DEPTH`` levels deep) or raises :class:`NotADelivery` with the
HTTP status to answer: 400 when the body is not JSON, 422 when it is JSON but not a delivery.
"""

from __future__ import annotations

import json
import unicodedata
from dataclasses import dataclass
from typing import Any

from ploomes_sync.streams import registry

#: Ploomes' EntityId of each stream that has webhooks (1 contact, 2 deal, 4 order, 10 product, and
#: quotes' by default; a delivery is matched by its Entity name first, so a configured other id works).
ENTITY_IDS = {s.name: s.webhook_entity_id for s in registry() if s.webhook_entity_id is not None}
_STREAM_OF_ID = {entity_id: stream for stream, entity_id in ENTITY_IDS.items()}
_STREAM_OF_NAME = {alias: s.name for s in registry() if s.webhook_entity_id is not None
                   for alias in (s.name, *s.webhook_names)}
_SYNCED = ", ".join(f"{name} (EntityId {entity_id})" for name, entity_id in ENTITY_IDS.items())
# Entities Ploomes can deliver that this version does not sync (known, so the refusal says so).
_NOT_SYNCED = {name: "tasks (EntityId 12)" for name in ("task", "tasks", "tarefa", "tarefas", "12")}
MAX_ID = 2**63 - 1
MAX_DEPTH = 32  # a delivery nests four levels (New.OtherProperties.<key>...); more is not one


class NotADelivery(ValueError):
    """The body is not a delivery we can act on (the message says why, ``status`` what to answer)."""

    def __init__(self, message: str, status: int = 422) -> None:
        super().__init__(message)
        self.status = status


def _whole_number(text: str) -> int | None:
    """``text`` as a positive whole number written in ASCII digits, else None."""
    text = text.strip()
    return int(text) if text.isascii() and text.isdigit() else None


@dataclass(frozen=True)
class Delivery:
    """One delivery: which stream and record it concerns, and the action Ploomes named."""

    stream: str  # the name of a stream of the registry
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
            number = _whole_number(text)
            if number in _STREAM_OF_ID:
                return _STREAM_OF_ID[number]
            if _plain(text) in _STREAM_OF_NAME:
                return _STREAM_OF_NAME[_plain(text)]
        if isinstance(value, dict):  # {"Id": 2, "Name": "Deal"}
            nested = {k: v for k, v in value.items() if k in ("Id", "Name")}
            for inner in (nested.get("Id"), nested.get("Name")):
                try:
                    return _stream({"Entity": inner})
                except NotADelivery:
                    continue
    for key in ("Entity", "EntityId"):
        value = payload.get(key)
        known = _NOT_SYNCED.get(_plain(str(value))) if isinstance(value, str | int) else None
        if known:
            raise NotADelivery(f"{known} deliveries are not synced: only {_SYNCED} are; remove that webhook")
    shown = {key: payload.get(key) for key in ("Entity", "EntityId") if key in payload}
    raise NotADelivery(f"unknown or missing entity {json.dumps(shown, default=str)[:200]}: only {_SYNCED} "
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
        number = _whole_number(value) if isinstance(value, str) else None
        if number is not None and 0 < number <= MAX_ID:
            return number
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


def _finite(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise ValueError(f"{text[:20]} is out of range")
    return value


def _storable(value: Any, depth: int = 0) -> Any:
    """``value`` with text PostgreSQL's jsonb refuses replaced (NUL, lone surrogates); raises
    :class:`NotADelivery` past ``MAX_DEPTH`` levels."""
    if depth > MAX_DEPTH:
        raise NotADelivery(f"the body nests more than {MAX_DEPTH} levels deep")
    if isinstance(value, str):
        return value.encode("utf-8", "replace").decode("utf-8").replace("\x00", "\ufffd")
    if isinstance(value, dict):
        return {_storable(key, depth): _storable(item, depth + 1) for key, item in value.items()}
    if isinstance(value, list):
        return [_storable(item, depth + 1) for item in value]
    return value


def parse(body: bytes) -> Delivery:
    """The delivery in ``body``; :class:`NotADelivery` when it is not one."""
    try:
        payload = json.loads(body, parse_constant=_no_constant, parse_float=_finite)
    except RecursionError:
        raise NotADelivery("the body is nested too deeply to be read as JSON", 400) from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise NotADelivery(f"the body is not JSON ({exc.__class__.__name__})", 400) from None
    if not isinstance(payload, dict):
        raise NotADelivery(f"the body must be a JSON object, got {type(payload).__name__}")
    payload = _storable(payload)
    return Delivery(stream=_stream(payload), record_id=_record_id(payload), action=_action(payload),
                    payload=payload)

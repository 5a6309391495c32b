"""Fault injection for API requests: by schedule, or at random with a seed.

Kinds: ``"500" "502" "503" "504"`` (that status), ``"429"`` (throttled), ``"slow"`` (answer
late), ``"drop"`` (close the connection without a response), ``"malformed"`` (200 with a
truncated JSON body); and the wrong answers of a hostile or unlucky API, each a 200 a client
cannot tell from a good one by its status:

- ``"empty"``: no record and a count of 0 (``{"value": [], "@odata.count": 0}``);
- ``"partial"``: the page without its 2nd and 3rd records (the count as it was);
- ``"endless"``: ``Id gt`` ignored, a page of new records with ascending Ids past it, every time;
- ``"negative_count"``: the page with ``@odata.count`` -5;
- ``"huge"``: the page padded past ``huge_answer_bytes``;
- ``"drip"``: the page sent a byte every ``drip_seconds``;
- ``"redirect"``: 301 to the same path and query at ``redirect_to`` (another host).

A schedule entry ``{"kind": K, "count": n, "after": k, "path": "/Deals", "filter": "Id eq"}`` lets
the next ``k`` matching requests through, then injects ``K`` into the next ``n`` matching ones
(``path`` optional: any API path; ``filter`` optional: text the request's ``$filter`` holds, such
as ``"Id eq"`` for reads by Id). Entries are consulted in order; the first that injects wins, and an
entry still in its ``after`` phase counts every matching request, faulted by another or not.
Probabilities ``{"503": 0.1, "drop": 0.02}`` draw once per request not hit by the schedule.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass
from typing import Any

FAULT_KINDS = ("500", "502", "503", "504", "429", "slow", "drop", "malformed", "empty", "partial", "endless",
               "negative_count", "huge", "drip", "redirect")
#: Wrong answers given after the key and the rate limit admitted the request (a 200 of the API's own).
WRONG_ANSWERS = frozenset({"empty", "partial", "endless", "negative_count", "huge", "drip"})
ERROR_STATUS_KINDS = frozenset({"500", "502", "503", "504"})


class FaultConfigError(ValueError):
    """A fault configuration the admin endpoint rejects with 400."""


@dataclass
class _Entry:
    kind: str
    count: int
    after: int
    path: str | None
    filter: str | None = None

    def describe(self) -> dict[str, Any]:
        return {"kind": self.kind, "count": self.count, "after": self.after, "path": self.path,
                "filter": self.filter}


def normalize_path(path: str) -> str:
    """Paths compare without case and without a trailing slash."""
    trimmed = path.rstrip("/") or "/"
    return trimmed.lower()


def _non_negative_int(entry: dict[str, Any], key: str, default: int) -> int:
    value = entry.get(key, default)
    if type(value) is not int or value < 0:
        raise FaultConfigError(f"schedule '{key}' must be a non-negative integer, got {value!r}")
    return value


def _check_kind(kind: Any) -> str:
    kind = str(kind) if type(kind) is int else kind
    if kind not in FAULT_KINDS:
        raise FaultConfigError(f"unknown fault kind {kind!r}; expected one of {', '.join(FAULT_KINDS)}")
    return kind


class FaultInjector:
    """Decides, request by request, which fault (if any) to inject."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._schedule: list[_Entry] = []
        self._probability: dict[str, float] = {}
        self._seed = 0
        self._rng = random.Random(0)

    def configure(
        self, schedule: list[dict[str, Any]] | None, probability: dict[str, float] | None, seed: int = 0
    ) -> None:
        """Replace the whole fault configuration (validated first; nothing changes on error)."""
        entries = []
        for item in schedule or []:
            if not isinstance(item, dict):
                raise FaultConfigError(f"schedule entries must be objects, got {item!r}")
            unknown = set(item) - {"kind", "count", "after", "path", "filter"}
            if unknown:
                raise FaultConfigError(f"unknown schedule keys: {sorted(unknown)}")
            path = item.get("path")
            if path is not None and not isinstance(path, str):
                raise FaultConfigError(f"schedule 'path' must be a string, got {path!r}")
            wanted = item.get("filter")
            if wanted is not None and not isinstance(wanted, str):
                raise FaultConfigError(f"schedule 'filter' must be a string, got {wanted!r}")
            entries.append(
                _Entry(
                    kind=_check_kind(item.get("kind")),
                    count=_non_negative_int(item, "count", 1),
                    after=_non_negative_int(item, "after", 0),
                    path=None if path is None else normalize_path(path),
                    filter=wanted,
                )
            )
        chances: dict[str, float] = {}
        for kind, chance in (probability or {}).items():
            if type(chance) not in (int, float) or not 0 <= chance <= 1:
                raise FaultConfigError(f"probability of {kind!r} must be between 0 and 1, got {chance!r}")
            chances[_check_kind(kind)] = float(chance)
        if sum(chances.values()) > 1:
            raise FaultConfigError("fault probabilities add up to more than 1")
        if type(seed) is not int:
            raise FaultConfigError(f"seed must be an integer, got {seed!r}")
        with self._lock:
            self._schedule = entries
            self._probability = chances
            self._seed = seed
            self._rng = random.Random(seed)

    def clear(self) -> None:
        """No more faults."""
        self.configure(None, None, 0)

    def describe(self) -> dict[str, Any]:
        """The current configuration, with what is left of each schedule entry."""
        with self._lock:
            return {
                "schedule": [entry.describe() for entry in self._schedule],
                "probability": dict(self._probability),
                "seed": self._seed,
            }

    def pick(self, path: str, filter_text: str = "") -> str | None:
        """The fault to inject into a request for ``path`` (whose ``$filter`` is ``filter_text``), or None."""
        wanted = normalize_path(path)
        with self._lock:
            chosen: str | None = None
            for entry in self._schedule:
                if entry.path is not None and entry.path != wanted:
                    continue
                if entry.filter is not None and entry.filter not in filter_text:
                    continue
                if entry.after > 0:
                    entry.after -= 1
                elif entry.count > 0 and chosen is None:
                    entry.count -= 1
                    chosen = entry.kind
            if chosen is not None or not self._probability:
                return chosen
            roll = self._rng.random()
            for kind, chance in self._probability.items():
                if roll < chance:
                    return kind
                roll -= chance
            return None

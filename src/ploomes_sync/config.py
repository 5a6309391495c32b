"""Run-time configuration: Airflow Variables, read only inside tasks.

- Variable ``ploomes_sync_config``: a JSON object whose keys are the fields of :class:`SyncConfig`;
  any key may be left out.
- Variable ``ploomes_sync_alert_emails``: comma-separated recipients of failure e-mails.

Either may come from the environment the way Airflow takes any Variable from it
(``AIRFLOW_VAR_PLOOMES_SYNC_CONFIG``, ``AIRFLOW_VAR_PLOOMES_SYNC_ALERT_EMAILS``).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from airflow.providers.common.compat.sdk import AirflowFailException

from ploomes_sync.settings import DEFAULT_CLIENT_TAG_ID, DEFAULT_QUOTE_ENTITY_ID

log = logging.getLogger(__name__)

CONFIG_VARIABLE = "ploomes_sync_config"
ALERT_EMAILS_VARIABLE = "ploomes_sync_alert_emails"
# Keys of earlier versions, accepted with a warning so an upgrade never fails a run over them.
RETIRED_KEYS = {
    "safety_lag_seconds": "a run now reads every change visible when it starts",
    "full_check_every_hours": "renamed listing_every_hours",
}


class ConfigError(AirflowFailException, ValueError):
    """The configuration Variable holds something the sync cannot use: the task fails at once (no
    retry can change it), naming the key and what it takes."""


@dataclass(frozen=True)
class Knob:
    """What a key of the Variable takes: a whole number or any finite number, within bounds."""

    whole: bool
    low: float
    high: float
    low_open: bool = False  # the lower bound itself is not allowed

    def check(self, key: str, value: Any) -> Any:
        kind = "a whole number" if self.whole else "a finite number"
        low = f"more than {self.low:g}" if self.low_open else f"from {self.low:g}"
        allowed = f"{kind} {low} to {self.high:g}"
        if isinstance(value, bool) or not isinstance(value, int | float) or (self.whole and not isinstance(value, int)):
            raise ConfigError(f"Variable {CONFIG_VARIABLE}: {key} must be {allowed}, got {value!r}.")
        if not math.isfinite(value) or value > self.high or value < self.low or (self.low_open and value == self.low):
            raise ConfigError(f"Variable {CONFIG_VARIABLE}: {key} must be {allowed}, got {value!r}.")
        return value


DAY_HOURS = 24.0
#: Every key of the Variable, with what it takes: no value (NaN, a boolean for a number, 1.7 for a
#: count, a share above 1) can switch a guard off.
KNOBS: dict[str, Knob] = {
    "client_tag_id": Knob(True, 1, 2**63 - 1),
    "quote_entity_id": Knob(True, 1, 1000),
    "lookback_minutes": Knob(False, 0, 7 * 24 * 60),
    "max_reject_ratio": Knob(False, 0, 1),
    "reject_allowance": Knob(True, 0, 10**9),
    "stale_stage_days": Knob(False, 0, 365, low_open=True),
    "listing_every_hours": Knob(False, 0, 366 * DAY_HOURS),
    "full_listing_every_hours": Knob(False, 0, 366 * DAY_HOURS),
    "listing_budget_share": Knob(False, 0, 1, low_open=True),
    "max_deletion_rows": Knob(True, 0, 10**9),
    "max_deletion_share": Knob(False, 0, 1),
    "deletion_guard_min_rows": Knob(True, 0, 10**9),
    "webhook_batch_size": Knob(True, 1, 10_000),
    "inbox_keep_days": Knob(False, 0, 365, low_open=True),
    "webhook_linger_seconds": Knob(False, 0, 3600),
    "stale_after_hours": Knob(False, 0, 30 * DAY_HOURS, low_open=True),
}


@dataclass(frozen=True)
class SyncConfig:
    """Knobs of the sync; the defaults suit most accounts (bounds: :data:`KNOBS`)."""

    client_tag_id: int = DEFAULT_CLIENT_TAG_ID  # tag that marks a contact as a client company
    quote_entity_id: int = DEFAULT_QUOTE_ENTITY_ID  # quotes' EntityId in webhooks (sources disagree)
    lookback_minutes: float = 30.0  # re-read this much before the watermark (late commits, clock skew)
    max_reject_ratio: float = 0.01  # fail when more than this share of a read's records is rejected
    reject_allowance: int = 5  # ... and more than this many
    stale_stage_days: float = 2.0  # staging rows of abandoned runs are removed after this long
    # The deletion listing (finds records gone from Ploomes). 0: every run lists; N > 0: at most
    # every N hours (runs in between find no deletions).
    listing_every_hours: float = 0.0
    # Where Ploomes answers $count, a listing counts Id ranges and lists only those that differ,
    # except at most every N hours, when it lists every record and compares every value (0: always).
    full_listing_every_hours: float = 24.0
    listing_budget_share: float = 0.5  # share of requests_per_minute the listing may spend
    # The reconcile refuses (deleting nothing, failing the task) to remove more than this many rows
    # of a table, or more than this share of it once more than deletion_guard_min_rows would go,
    # or every row of a table, whatever its size.
    max_deletion_rows: int = 200
    max_deletion_share: float = 0.02
    deletion_guard_min_rows: int = 10
    # Webhooks: events applied per batch (one re-read of their records), and how long applied
    # events stay in the inbox.
    webhook_batch_size: int = 1000
    inbox_keep_days: float = 7.0
    # The applier's task keeps watching the inbox this long after the last event it applied, and
    # applies what arrives (0: it applies what is pending and ends; the watcher starts the next run).
    webhook_linger_seconds: float = 15.0
    # Stale-data alert: e-mail when no scheduled, manual or backfill run has succeeded for this long.
    stale_after_hours: float = 8.0
    # The streams to sync (None: every one). An account without orders or quotes leaves them out:
    # their tables, and the price history, are left as they are and not checked.
    streams: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        for spec in dataclasses.fields(self):
            if spec.name in KNOBS:
                KNOBS[spec.name].check(spec.name, getattr(self, spec.name))
        if self.streams is not None:
            object.__setattr__(self, "streams", _stream_names(self.streams))

    def syncs(self, stream: str) -> bool:
        """Whether ``stream`` is synced (``streams`` names it, or names none)."""
        return self.streams is None or stream in self.streams

    @property
    def lookback(self) -> timedelta:
        return timedelta(minutes=self.lookback_minutes)

    @property
    def stale_after(self) -> timedelta:
        return timedelta(hours=self.stale_after_hours)

    def too_many_rejects(self, rejected: int, fetched: int) -> bool:
        """Whether ``rejected`` of ``fetched`` records is over the configured threshold."""
        return rejected > self.reject_allowance and rejected > self.max_reject_ratio * max(fetched, 1)

    def too_many_deletions(self, gone: int, scope: int) -> bool:
        """Whether removing ``gone`` of ``scope`` rows is a mass deletion to refuse."""
        return gone > self.max_deletion_rows or (
            gone > self.deletion_guard_min_rows and gone > self.max_deletion_share * scope)

    @classmethod
    def from_mapping(cls, values: dict[str, Any]) -> SyncConfig:
        """The configuration of a JSON object's keys: each value exactly of the type and within the
        bounds its key takes (:data:`KNOBS`), or :class:`ConfigError` naming the key and what it takes."""
        known = {spec.name for spec in dataclasses.fields(cls)}
        for key in sorted(set(values) & set(RETIRED_KEYS)):
            log.warning("Variable %s: %r is no longer used (%s); remove it.", CONFIG_VARIABLE, key, RETIRED_KEYS[key])
        values = {key: value for key, value in values.items() if key not in RETIRED_KEYS}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ConfigError(f"Variable {CONFIG_VARIABLE} has unknown keys {unknown}; known keys: {sorted(known)}.")
        return cls(**{key: KNOBS[key].check(key, value) if key in KNOBS else value for key, value in values.items()})


def _stream_names(value: Any) -> tuple[str, ...]:
    """``streams``: a list of names of the registry's streams, each once, at least one."""
    from ploomes_sync.streams import registry

    known = registry().names
    if isinstance(value, str) or not isinstance(value, list | tuple) or not value \
            or not all(isinstance(name, str) for name in value):
        raise ConfigError(f"Variable {CONFIG_VARIABLE}: streams must be a list of stream names (some of "
                          f"{list(known)}), got {value!r}.")
    unknown = sorted(set(value) - set(known))
    if unknown:
        raise ConfigError(f"Variable {CONFIG_VARIABLE}: streams names {unknown}, which the sync does not have; "
                          f"it has {list(known)}.")
    return tuple(name for name in known if name in value)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def parse_config(text: str | None) -> SyncConfig:
    """The configuration in the Variable's text (None or blank: the defaults)."""
    if text is None or not text.strip():
        return SyncConfig()
    try:
        values = json.loads(text, parse_constant=_no_constant)
    except ValueError as err:  # json.JSONDecodeError too
        raise ConfigError(f"Variable {CONFIG_VARIABLE} is not valid JSON ({err}). Fix it in Admin › Variables (or "
                          "AIRFLOW_VAR_PLOOMES_SYNC_CONFIG); nothing was read or written.") from err
    if not isinstance(values, dict):
        raise ConfigError(f"Variable {CONFIG_VARIABLE} must be a JSON object, got {type(values).__name__}.")
    return SyncConfig.from_mapping(values)


def load_config() -> SyncConfig:
    """The configuration in force (call inside a task, never at parse time). The Variable's text is
    parsed here, not by ``Variable.get``, which answers the default for text that is not JSON."""
    from airflow.sdk import Variable

    return parse_config(Variable.get(CONFIG_VARIABLE, default=None))


def alert_recipients() -> list[str]:
    """Who gets failure e-mails; empty when nobody was configured."""
    from airflow.sdk import Variable

    raw = Variable.get(ALERT_EMAILS_VARIABLE, default=None) or ""
    return [address.strip() for address in raw.replace(";", ",").split(",") if address.strip()]

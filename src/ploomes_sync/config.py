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
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from ploomes_sync.settings import DEFAULT_CLIENT_TAG_ID, DEFAULT_QUOTE_ENTITY_ID

log = logging.getLogger(__name__)

CONFIG_VARIABLE = "ploomes_sync_config"
ALERT_EMAILS_VARIABLE = "ploomes_sync_alert_emails"
# Keys of earlier versions, accepted with a warning so an upgrade never fails a run over them.
RETIRED_KEYS = {
    "safety_lag_seconds": "a run now reads every change visible when it starts",
    "full_check_every_hours": "renamed listing_every_hours",
}


class ConfigError(ValueError):
    """The configuration Variable holds something the sync cannot use."""


@dataclass(frozen=True)
class SyncConfig:
    """Knobs of the sync; the defaults suit most accounts."""

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
    # of a table, or more than this share of it once more than deletion_guard_min_rows would go.
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

    def __post_init__(self) -> None:
        if not 0 < self.listing_budget_share <= 1:
            raise ConfigError(f"listing_budget_share must be in (0, 1], got {self.listing_budget_share}")
        for name in ("lookback_minutes", "listing_every_hours", "full_listing_every_hours", "max_deletion_rows",
                     "max_deletion_share", "deletion_guard_min_rows", "reject_allowance", "max_reject_ratio",
                     "webhook_linger_seconds"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name} must not be negative, got {getattr(self, name)}")
        for name in ("stale_stage_days", "webhook_batch_size", "inbox_keep_days", "stale_after_hours"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"{name} must be positive, got {getattr(self, name)}")

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
        known = {spec.name for spec in dataclasses.fields(cls)}
        for key in sorted(set(values) & set(RETIRED_KEYS)):
            log.warning("Variable %s: %r is no longer used (%s); remove it.", CONFIG_VARIABLE, key, RETIRED_KEYS[key])
        values = {key: value for key, value in values.items() if key not in RETIRED_KEYS}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ConfigError(f"Variable {CONFIG_VARIABLE} has unknown keys {unknown}; known keys: {sorted(known)}.")
        try:
            converted = {key: type(getattr(cls, key))(value) for key, value in values.items()}
        except (TypeError, ValueError) as err:
            raise ConfigError(f"Variable {CONFIG_VARIABLE} has a value of the wrong type: {err}") from err
        return cls(**converted)


def load_config() -> SyncConfig:
    """The configuration in force (call inside a task, never at parse time)."""
    from airflow.sdk import Variable

    try:
        values = Variable.get(CONFIG_VARIABLE, default=None, deserialize_json=True)
    except json.JSONDecodeError as err:
        raise ConfigError(f"Variable {CONFIG_VARIABLE} is not valid JSON: {err}") from err
    if values is None:
        return SyncConfig()
    if not isinstance(values, dict):
        raise ConfigError(f"Variable {CONFIG_VARIABLE} must be a JSON object.")
    return SyncConfig.from_mapping(values)


def alert_recipients() -> list[str]:
    """Who gets failure e-mails; empty when nobody was configured."""
    from airflow.sdk import Variable

    raw = Variable.get(ALERT_EMAILS_VARIABLE, default=None) or ""
    return [address.strip() for address in raw.replace(";", ",").split(",") if address.strip()]

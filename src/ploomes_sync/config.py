"""Run-time configuration: Airflow Variables, with environment defaults, read only inside tasks.

- Variable ``ploomes_sync_config`` (env ``PLOOMES_SYNC_CONFIG``): a JSON object whose keys are the
  fields of :class:`SyncConfig`; any key may be left out.
- Variable ``ploomes_sync_alert_emails`` (env ``PLOOMES_SYNC_ALERT_EMAILS``): comma-separated
  recipients of failure e-mails.
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from ploomes_sync.settings import DEFAULT_CLIENT_TAG_ID

CONFIG_VARIABLE = "ploomes_sync_config"
ALERT_EMAILS_VARIABLE = "ploomes_sync_alert_emails"


class ConfigError(ValueError):
    """The configuration Variable holds something the sync cannot use."""


@dataclass(frozen=True)
class SyncConfig:
    """Knobs of the sync; the defaults suit most accounts."""

    client_tag_id: int = DEFAULT_CLIENT_TAG_ID  # tag that marks a contact as a client company
    lookback_minutes: float = 30.0  # re-read this much before the watermark (clock skew, late commits)
    safety_lag_seconds: float = 120.0  # the cutoff trails the run's start by this much
    max_reject_ratio: float = 0.01  # fail when more than this share of a stream's records is rejected
    reject_allowance: int = 5  # ... and more than this many
    stale_stage_days: float = 2.0  # staging rows of abandoned runs are removed after this long
    # 0: every run lists Ploomes' deals lightly to archive deletions and compare per year. On very
    # large accounts, N > 0 does that whole-account check at most every N hours (incremental runs).
    full_check_every_hours: float = 0.0

    @property
    def lookback(self) -> timedelta:
        return timedelta(minutes=self.lookback_minutes)

    @property
    def safety_lag(self) -> timedelta:
        return timedelta(seconds=self.safety_lag_seconds)

    def too_many_rejects(self, rejected: int, fetched: int) -> bool:
        """Whether ``rejected`` of ``fetched`` records is over the configured threshold."""
        return rejected > self.reject_allowance and rejected > self.max_reject_ratio * max(fetched, 1)

    @classmethod
    def from_mapping(cls, values: dict[str, Any]) -> SyncConfig:
        known = {field.name: field.type for field in dataclasses.fields(cls)}
        unknown = sorted(set(values) - set(known))
        if unknown:
            raise ConfigError(
                f"Variable {CONFIG_VARIABLE} has unknown keys {unknown}; known keys: {sorted(known)}."
            )
        try:
            converted = {key: type(getattr(cls, key))(value) for key, value in values.items()}
        except (TypeError, ValueError) as err:
            raise ConfigError(f"Variable {CONFIG_VARIABLE} has a value of the wrong type: {err}") from err
        return cls(**converted)


def _variable(key: str, env: str) -> str | None:
    from airflow.sdk import Variable

    default = os.environ.get(env)
    return Variable.get(key, default=default)


def load_config() -> SyncConfig:
    """The configuration in force (call inside a task, never at parse time)."""
    raw = _variable(CONFIG_VARIABLE, "PLOOMES_SYNC_CONFIG")
    if not raw:
        return SyncConfig()
    try:
        values = json.loads(raw)
    except json.JSONDecodeError as err:
        raise ConfigError(f"Variable {CONFIG_VARIABLE} is not valid JSON: {err}") from err
    if not isinstance(values, dict):
        raise ConfigError(f"Variable {CONFIG_VARIABLE} must be a JSON object.")
    return SyncConfig.from_mapping(values)


def alert_recipients() -> list[str]:
    """Who gets failure e-mails; empty when nobody was configured."""
    raw = _variable(ALERT_EMAILS_VARIABLE, "PLOOMES_SYNC_ALERT_EMAILS") or ""
    return [address.strip() for address in raw.replace(";", ",").split(",") if address.strip()]

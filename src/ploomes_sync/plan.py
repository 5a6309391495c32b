"""What one run reads: its mode and its windows, decided once when the run starts.

A run is one of three modes:

- ``incremental``: records whose ``LastUpdateDate`` lies in ``[watermark - lookback, cutoff)``;
- ``full``: every deal, and every contact with ``LastUpdateDate < cutoff`` (no watermark yet, or
  ``full_refresh``); reading every deal lets the extract double as validate_by_year's listing;
- ``range``: every deal created in ``[created_from, created_to)`` in São Paulo time, brought to its
  current state (a manual run with ``from_date``/``to_date``, or an Airflow backfill run, whose
  range is its data interval). Contacts are synced incrementally alongside.

``cutoff`` is fixed from the run's start (less a safety lag), so a retried task reads the same
window. The deals watermark moves only in ``incremental`` and ``full`` runs.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from airflow.providers.common.compat.sdk import AirflowFailException

from ploomes_sync.settings import BUSINESS_TIMEZONE

SAO_PAULO = ZoneInfo(BUSINESS_TIMEZONE)
Mode = Literal["incremental", "full", "range"]


class PlanError(AirflowFailException, ValueError):
    """The run's parameters do not describe a run that can be made (fails with no retry)."""


@dataclass(frozen=True)
class RunPlan:
    """The windows one run reads, small enough to pass between tasks through XCom."""

    run_key: str
    run_type: str
    mode: Mode
    cutoff: datetime
    deals_from: datetime | None = None
    contacts_from: datetime | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None
    full_contacts: bool = False

    @property
    def moves_deals_watermark(self) -> bool:
        """Whether the deals watermark moves after this run's load (not for date ranges).

        The contacts window is always ``[contacts_from, cutoff)``, so its watermark always moves.
        """
        return self.mode != "range"

    def to_xcom(self) -> dict[str, Any]:
        """JSON-safe form."""
        return {
            key: value.isoformat() if isinstance(value, datetime) else value
            for key, value in dataclasses.asdict(self).items()
        }

    @classmethod
    def from_xcom(cls, data: dict[str, Any]) -> RunPlan:
        """Inverse of :meth:`to_xcom`."""
        values = dict(data)
        for field in dataclasses.fields(cls):
            value = values.get(field.name)
            if isinstance(value, str) and field.type.startswith("datetime"):
                values[field.name] = datetime.fromisoformat(value)
        return cls(**values)


def _as_date(value: Any, name: str) -> date | None:
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError as err:
        raise PlanError(f"Param {name}={value!r} is not a date: use YYYY-MM-DD.") from err


def start_of_day(day: date) -> datetime:
    """Midnight of ``day`` in São Paulo."""
    return datetime.combine(day, time(0), tzinfo=SAO_PAULO)


def make_plan(
    *,
    run_key: str,
    run_type: str,
    run_started_at: datetime,
    params: dict[str, Any],
    data_interval: tuple[datetime | None, datetime | None],
    watermarks: dict[str, datetime],
    lookback: timedelta,
    safety_lag: timedelta,
) -> RunPlan:
    """Decide the mode and windows of a run from what Airflow knows about it."""
    cutoff = run_started_at - safety_lag
    # whole milliseconds, as the $filter literal writes it (odata_instant): the extract's window,
    # the watermark and the per-year check must all end at the very same instant
    cutoff = cutoff.replace(microsecond=cutoff.microsecond // 1000 * 1000)
    full_refresh = bool(params.get("full_refresh"))
    from_day = _as_date(params.get("from_date"), "from_date")
    to_day = _as_date(params.get("to_date"), "to_date")

    def since(stream: str) -> datetime | None:
        mark = None if full_refresh else watermarks.get(stream)
        return None if mark is None else min(mark - lookback, cutoff)

    contacts_from = since("contacts")
    common = {"run_key": run_key, "run_type": run_type, "cutoff": cutoff, "full_contacts": full_refresh}

    if from_day or to_day:
        if not (from_day and to_day):
            raise PlanError("Give both from_date and to_date for a date-range run, or neither.")
        if to_day < from_day:
            raise PlanError(f"to_date {to_day} is before from_date {from_day}.")
        return RunPlan(
            mode="range",
            created_from=start_of_day(from_day),
            created_to=start_of_day(to_day + timedelta(days=1)),
            contacts_from=contacts_from,
            **common,
        )
    if run_type == "backfill":
        start, end = data_interval
        if start is None or end is None or start >= end:
            raise PlanError(f"A backfill run needs a data interval; got {start} .. {end}.")
        return RunPlan(mode="range", created_from=start, created_to=end, contacts_from=contacts_from, **common)

    deals_from = since("deals")
    return RunPlan(
        mode="full" if deals_from is None else "incremental",
        deals_from=deals_from,
        contacts_from=contacts_from,
        **common,
    )


def odata_instant(value: datetime) -> str:
    """An OData datetime literal in São Paulo time, as the Ploomes API takes it."""
    local = value.astimezone(SAO_PAULO)
    return local.isoformat(timespec="milliseconds" if local.microsecond else "seconds")


def deals_filter(plan: RunPlan) -> str | None:
    """``$filter`` of the deals extract."""
    if plan.mode == "range":
        assert plan.created_from and plan.created_to
        return created_filter(plan.created_from, plan.created_to)
    if plan.mode == "full":
        return None  # every deal, so the extract doubles as validate_by_year's listing
    return updated_filter(plan.deals_from, plan.cutoff)


def contacts_filter(plan: RunPlan) -> str:
    """``$filter`` of the contacts extract."""
    return updated_filter(None if plan.full_contacts else plan.contacts_from, plan.cutoff)


def listing_filter(plan: RunPlan) -> str | None:
    """``$filter`` of the light listing used by the reconcile and the validation."""
    if plan.mode == "range":
        assert plan.created_from and plan.created_to
        return created_filter(plan.created_from, plan.created_to)
    return None


def updated_filter(since: datetime | None, until: datetime) -> str:
    upper = f"LastUpdateDate lt {odata_instant(until)}"
    return upper if since is None else f"LastUpdateDate ge {odata_instant(since)} and {upper}"


def created_filter(start: datetime, end: datetime) -> str:
    return f"CreateDate ge {odata_instant(start)} and CreateDate lt {odata_instant(end)}"

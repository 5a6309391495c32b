"""What one run reads: its mode, its windows and its listing, decided once when the run starts.

A run is one of three modes:

- ``incremental``: records whose ``LastUpdateDate`` is at or after the stream's watermark less the
  lookback. No upper bound: a run loads every change visible when it reads (a newer version
  loaded by one run is never overwritten by an older one of another);
- ``full``: every deal and every contact (no watermark yet, or ``full_refresh``); its extracts
  double as the listings;
- ``range``: every deal created in ``[created_from, created_to)`` in São Paulo time, brought to its
  current state (a manual run with ``from_date``/``to_date``, or an Airflow backfill run, whose
  range is its data interval); its deals extract is the listing of that range. Contacts are
  synced incrementally alongside.

Clocks: the windows compare Ploomes' dates with Ploomes-derived bounds (watermarks are the Ploomes
time a read began); whether a listing is due compares the warehouse's clock with itself. The
worker's clock decides nothing.
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
Listing = Literal["none", "count", "full", "extract"]


class PlanError(AirflowFailException, ValueError):
    """The run's parameters do not describe a run that can be made (fails with no retry)."""


@dataclass(frozen=True)
class RunPlan:
    """The windows one run reads, small enough to pass between tasks through XCom."""

    run_id: str
    run_type: str
    mode: Mode
    planned_at: datetime  # the warehouse's clock when the run was planned
    deals_from: datetime | None = None
    contacts_from: datetime | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None
    full_contacts: bool = False
    deals_listing: Listing = "none"  # how this run finds deals gone from Ploomes
    contacts_listing: Listing = "none"
    confirm_mass_deletion: bool = False

    @property
    def moves_deals_watermark(self) -> bool:
        """Whether the deals watermark moves after this run's load (not for date ranges)."""
        return self.mode != "range"

    def listing(self, stream: str) -> Listing:
        """How this run finds the records of ``stream`` gone from Ploomes."""
        return self.deals_listing if stream == "deals" else self.contacts_listing

    def to_xcom(self) -> dict[str, Any]:
        """JSON-safe form."""
        return {key: value.isoformat() if isinstance(value, datetime) else value
                for key, value in dataclasses.asdict(self).items()}

    @classmethod
    def from_xcom(cls, data: dict[str, Any]) -> RunPlan:
        """Inverse of :meth:`to_xcom`."""
        values = dict(data)
        for field in dataclasses.fields(cls):
            value = values.get(field.name)
            if isinstance(value, str) and "datetime" in str(field.type):
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


def listing_due(last: datetime | None, now: datetime, every_hours: float) -> bool:
    """Whether something done last at ``last`` is due again at ``now`` (both the warehouse's clock)."""
    return every_hours <= 0 or last is None or now - last >= timedelta(hours=every_hours)


def make_plan(
    *,
    run_id: str,
    run_type: str,
    planned_at: datetime,
    params: dict[str, Any],
    data_interval: tuple[datetime | None, datetime | None],
    watermarks: dict[str, datetime],
    lookback: timedelta,
    last_listing: dict[str, datetime | None] | None = None,
    last_full_listing: dict[str, datetime | None] | None = None,
    listing_every_hours: float = 0.0,
    full_listing_every_hours: float = 24.0,
) -> RunPlan:
    """Decide the mode, windows and listings of a run from what Airflow and the warehouse know."""
    full_refresh = bool(params.get("full_refresh"))
    from_day = _as_date(params.get("from_date"), "from_date")
    to_day = _as_date(params.get("to_date"), "to_date")
    last_listing = last_listing or {}
    last_full_listing = last_full_listing or {}

    def since(stream: str) -> datetime | None:
        mark = None if full_refresh else watermarks.get(stream)
        return None if mark is None else mark - lookback

    def listing(stream: str, extract_lists: bool) -> Listing:
        if extract_lists:
            return "extract"
        if not listing_due(last_listing.get(stream), planned_at, listing_every_hours):
            return "none"
        return "full" if listing_due(last_full_listing.get(stream), planned_at, full_listing_every_hours) else "count"

    contacts_from = since("contacts")
    common = {"run_id": run_id, "run_type": run_type, "planned_at": planned_at, "full_contacts": full_refresh,
              "confirm_mass_deletion": bool(params.get("confirm_mass_deletion")),
              "contacts_listing": listing("contacts", full_refresh or contacts_from is None)}

    if from_day or to_day:
        if not (from_day and to_day):
            raise PlanError("Give both from_date and to_date for a date-range run, or neither.")
        if to_day < from_day:
            raise PlanError(f"to_date {to_day} is before from_date {from_day}.")
        return RunPlan(mode="range", created_from=start_of_day(from_day),
                       created_to=start_of_day(to_day + timedelta(days=1)), contacts_from=contacts_from,
                       deals_listing="extract", **common)
    if run_type == "backfill":
        start, end = data_interval
        if start is None or end is None or start >= end:
            raise PlanError(f"A backfill run needs a data interval; got {start} .. {end}.")
        return RunPlan(mode="range", created_from=start, created_to=end, contacts_from=contacts_from,
                       deals_listing="extract", **common)

    deals_from = since("deals")
    return RunPlan(mode="full" if deals_from is None else "incremental", deals_from=deals_from,
                   contacts_from=contacts_from, deals_listing=listing("deals", deals_from is None), **common)


def odata_instant(value: datetime) -> str:
    """An OData datetime literal in São Paulo time, as the Ploomes API takes it."""
    local = value.astimezone(SAO_PAULO)
    return local.isoformat(timespec="milliseconds" if local.microsecond else "seconds")


def deals_filter(plan: RunPlan) -> str | None:
    """``$filter`` of the deals extract."""
    if plan.mode == "range":
        assert plan.created_from and plan.created_to
        return created_filter(plan.created_from, plan.created_to)
    return updated_filter(plan.deals_from)


def contacts_filter(plan: RunPlan) -> str | None:
    """``$filter`` of the contacts extract."""
    return updated_filter(None if plan.full_contacts else plan.contacts_from)


def updated_filter(since: datetime | None) -> str | None:
    """Records updated at or after ``since`` (all of them when None); no upper bound."""
    return None if since is None else f"LastUpdateDate ge {odata_instant(since)}"


def created_filter(start: datetime, end: datetime) -> str:
    return f"CreateDate ge {odata_instant(start)} and CreateDate lt {odata_instant(end)}"

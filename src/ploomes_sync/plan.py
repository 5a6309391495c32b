"""What one run reads: its mode, and for each stream its window and its listing, decided once when the run starts.

A run is one of three modes:

- ``incremental``: each stream's records whose ``LastUpdateDate`` is at or after its watermark less
  the lookback (a stream without a watermark yet reads every record). No upper bound: a run loads
  every change visible when it reads (a newer version loaded by one run is never overwritten by an
  older one of another);
- ``full``: every record of every stream (no watermark yet, or ``full_refresh``); the extracts
  double as the listings;
- ``range``: the records created in ``[created_from, created_to)`` in São Paulo time of the streams
  read by creation date (``Stream.created_range``: deals), brought to their current state (a manual
  run with ``from_date``/``to_date``, or an Airflow backfill run, whose range is its data interval);
  their extract is the listing of that range. The other streams are synced incrementally alongside.

The runs of one Airflow backfill share one range: the first to plan re-syncs the backfill's runs'
whole range, and each of the others plans as *covered* (``covered_by`` that run) and reads nothing
(:mod:`ploomes_sync.warehouse.backfill`).

Clocks: the windows compare Ploomes' dates with Ploomes-derived bounds (watermarks are the Ploomes
time a read began); whether a listing is due compares the warehouse's clock with itself. The
worker's clock decides nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from airflow.providers.common.compat.sdk import AirflowFailException

from ploomes_sync.settings import BUSINESS_TIMEZONE
from ploomes_sync.streams import Stream

SAO_PAULO = ZoneInfo(BUSINESS_TIMEZONE)
Mode = Literal["incremental", "full", "range"]
ListingMethod = Literal["none", "count", "full", "extract"]


class PlanError(AirflowFailException, ValueError):
    """The run's parameters do not describe a run that can be made (fails with no retry)."""


@dataclass(frozen=True)
class StreamPlan:
    """What one run reads of one stream, and how it finds the records gone from Ploomes."""

    since: datetime | None = None  # LastUpdateDate at or after this; None: every record (or the range)
    listing: ListingMethod = "none"
    created_range: bool = False  # the records created in the run's range (a range run's own streams)

    @property
    def moves_watermark(self) -> bool:
        """Whether the stream's watermark moves after its load (not for a date range)."""
        return not self.created_range


def _instant(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) else value


def _text(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


@dataclass(frozen=True)
class RunPlan:
    """The windows one run reads, small enough to pass between tasks through XCom."""

    run_id: str
    run_type: str
    mode: Mode
    planned_at: datetime  # the warehouse's clock when the run was planned
    streams: dict[str, StreamPlan]  # by stream name, every stream of the registry when it was planned
    created_from: datetime | None = None
    created_to: datetime | None = None
    confirm_mass_deletion: bool = False
    covered_by: str | None = None  # a backfill run whose interval another run re-syncs: it does nothing

    def stream(self, name: str) -> StreamPlan:
        """The plan of stream ``name`` (a stream added since the run was planned is not read by it)."""
        return self.streams.get(name, StreamPlan())

    def listing(self, name: str) -> ListingMethod:
        """How this run finds the records of stream ``name`` gone from Ploomes."""
        return self.stream(name).listing

    def to_xcom(self) -> dict[str, Any]:
        """JSON-safe form."""
        return {"run_id": self.run_id, "run_type": self.run_type, "mode": self.mode,
                "planned_at": _text(self.planned_at), "created_from": _text(self.created_from),
                "created_to": _text(self.created_to), "confirm_mass_deletion": self.confirm_mass_deletion,
                "covered_by": self.covered_by,
                "streams": {name: {"since": _text(plan.since), "listing": plan.listing,
                                   "created_range": plan.created_range} for name, plan in self.streams.items()}}

    @classmethod
    def from_xcom(cls, data: dict[str, Any]) -> RunPlan:
        """Inverse of :meth:`to_xcom`."""
        streams = {name: StreamPlan(since=_instant(plan.get("since")), listing=plan.get("listing", "none"),
                                    created_range=bool(plan.get("created_range")))
                   for name, plan in (data.get("streams") or {}).items()}
        return cls(run_id=data["run_id"], run_type=data["run_type"], mode=data["mode"],
                   planned_at=_instant(data["planned_at"]), streams=streams,
                   created_from=_instant(data.get("created_from")), created_to=_instant(data.get("created_to")),
                   confirm_mass_deletion=bool(data.get("confirm_mass_deletion")),
                   covered_by=data.get("covered_by"))

    @property
    def window_start(self) -> datetime | None:
        """Where the run's reads begin: the range's start, else the earliest stream window (None: all)."""
        if self.mode == "range":
            return self.created_from
        since = [plan.since for plan in self.streams.values()]
        return None if not since or None in since else min(since)  # type: ignore[type-var]


EARLIEST_DATE, LATEST_DATE = date(1970, 1, 1), date(2100, 12, 31)  # what a date-range run may name


def _as_date(value: Any, name: str) -> date | None:
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        day = value.date()
    elif isinstance(value, date):
        day = value
    else:
        try:
            day = date.fromisoformat(str(value)[:10])
        except ValueError as err:
            raise PlanError(f"Param {name}={value!r} is not a date: use YYYY-MM-DD.") from err
    if not EARLIEST_DATE <= day <= LATEST_DATE:
        raise PlanError(f"Param {name}={day.isoformat()} is out of range: a date-range run takes dates from "
                        f"{EARLIEST_DATE.isoformat()} to {LATEST_DATE.isoformat()}.")
    return day


def _as_flag(value: Any, name: str) -> bool:
    if value is None or isinstance(value, bool):
        return bool(value)
    raise PlanError(f"Param {name}={value!r} must be true or false (a JSON boolean), not {type(value).__name__}.")


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
    streams: Iterable[Stream],
    watermarks: dict[str, datetime],
    lookback: timedelta,
    last_listing: dict[str, datetime | None] | None = None,
    last_full_listing: dict[str, datetime | None] | None = None,
    listing_every_hours: float = 0.0,
    full_listing_every_hours: float = 24.0,
) -> RunPlan:
    """Decide the mode, and each stream's window and listing, from what Airflow and the warehouse know."""
    full_refresh = _as_flag(params.get("full_refresh"), "full_refresh")
    confirm_mass_deletion = _as_flag(params.get("confirm_mass_deletion"), "confirm_mass_deletion")
    from_day = _as_date(params.get("from_date"), "from_date")
    to_day = _as_date(params.get("to_date"), "to_date")
    last_listing = last_listing or {}
    last_full_listing = last_full_listing or {}

    def since(name: str) -> datetime | None:
        mark = None if full_refresh else watermarks.get(name)
        return None if mark is None else mark - lookback

    def listing(name: str, extract_lists: bool) -> ListingMethod:
        if extract_lists:
            return "extract"
        if not listing_due(last_listing.get(name), planned_at, listing_every_hours):
            return "none"
        return "full" if listing_due(last_full_listing.get(name), planned_at, full_listing_every_hours) else "count"

    def incremental(stream: Stream) -> StreamPlan:
        if stream.whole:  # a small list, read whole every run: its extract is its listing
            return StreamPlan(listing="extract")
        window = since(stream.name)
        return StreamPlan(since=window, listing=listing(stream.name, window is None))

    created: tuple[datetime, datetime] | None = None
    if from_day or to_day:
        if not (from_day and to_day):
            raise PlanError("Give both from_date and to_date for a date-range run, or neither.")
        if to_day < from_day:
            raise PlanError(f"to_date {to_day} is before from_date {from_day}.")
        created = (start_of_day(from_day), start_of_day(to_day + timedelta(days=1)))
    elif run_type == "backfill":
        start, end = data_interval
        if start is None or end is None or start >= end:
            raise PlanError(f"A backfill run needs a data interval; got {start} .. {end}.")
        created = (start, end)

    common = {"run_id": run_id, "run_type": run_type, "planned_at": planned_at,
              "confirm_mass_deletion": confirm_mass_deletion}
    if created is not None:
        plans = {stream.name: StreamPlan(listing="extract", created_range=True) if stream.created_range
                 else incremental(stream) for stream in streams}
        return RunPlan(mode="range", created_from=created[0], created_to=created[1], streams=plans, **common)
    streams = list(streams)
    plans = {stream.name: incremental(stream) for stream in streams}
    everything = all(plans[stream.name].since is None for stream in streams if not stream.whole)
    return RunPlan(mode="full" if everything else "incremental", streams=plans, **common)


def odata_instant(value: datetime) -> str:
    """An OData datetime literal in São Paulo time, as the Ploomes API takes it."""
    local = value.astimezone(SAO_PAULO)
    return local.isoformat(timespec="milliseconds" if local.microsecond else "seconds")


def stream_filter(plan: RunPlan, stream: Stream) -> str | None:
    """``$filter`` of ``stream``'s extract in this run."""
    own = plan.stream(stream.name)
    if own.created_range:
        assert plan.created_from and plan.created_to
        return created_filter(plan.created_from, plan.created_to)
    return updated_filter(own.since)


def updated_filter(since: datetime | None) -> str | None:
    """Records updated at or after ``since`` (all of them when None); no upper bound."""
    return None if since is None else f"LastUpdateDate ge {odata_instant(since)}"


def created_filter(start: datetime, end: datetime) -> str:
    return f"CreateDate ge {odata_instant(start)} and CreateDate lt {odata_instant(end)}"

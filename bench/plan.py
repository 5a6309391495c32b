"""What one benchmark run measures: the sizes, the rate, the latencies, the changes, the old cron.

The defaults are the issues': full syncs of 30,000 and 300,000 deals with no limit (a regression
guard only: at 120 requests a minute the API caps production at 600 deals a second); the full
sync of 30,000 at 120 requests a minute with the API answering in 0, 0.5, 1 and 2 s, against the
floor; a 6-hourly run after 300 updates, 6 creations and 5 deletions at both sizes, with and
without ``$count``; the old cron's pages of 50 with a 500 ms pause; 120 changes a second apart,
delivered by webhook and applied at 120 requests a minute with the API answering after 0.5 s. ``tiny`` scales every one
down so the whole run takes seconds (``make test`` runs it); the floor is scaled with the rate.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from typing import Any

API_PAGE_SIZE = 300  # records a page the API returns at most
API_REQUESTS_PER_MINUTE = 120  # the account's budget
DEALS_PER_CONTACT = 15  # the simulator's default ratio (30,000 deals, 2,000 contacts)
DEFAULT_SIZES = (30_000, 300_000)
DEFAULT_REFERENCE_DEALS = 30_000
DEFAULT_CHANGES = (300, 6, 5)  # updates, creations, deletions between two 6-hourly runs
DEFAULT_LATENCIES = (0.0, 0.5, 1.0, 2.0)
RUNS_PER_DAY = 4
OLD_PAGE_SIZE = 50  # what the old cron asked for with $top
OLD_PAUSE_SECONDS = 0.5  # what it slept between pages
SEED = 42


def contacts_for(deals: int) -> int:
    """Contacts generated beside ``deals`` deals (the simulator's ratio, at least one)."""
    return max(1, round(deals / DEALS_PER_CONTACT))


def pages(records: int, page_size: int = API_PAGE_SIZE) -> int:
    """Pages of ``page_size`` that hold ``records`` (the empty page that ends a keyset read not counted)."""
    return math.ceil(records / page_size)


@dataclass(frozen=True)
class BenchPlan:
    """Sizes and settings of one run; :meth:`default` and :meth:`tiny` are the two presets."""

    preset: str
    sizes: tuple[int, ...]  # deals of each unlimited full sync
    reference_deals: int  # deals of the rate-limited, incremental and baseline scenarios
    requests_per_minute: int  # of the rate-limited scenarios (simulator and hook alike)
    changes: tuple[int, int, int]  # deals updated, created and deleted before a 6-hourly run
    latencies: tuple[float, ...]  # seconds the API takes to answer, one rate-limited full sync each
    old_page_size: int
    old_pause_seconds: float
    webhook_changes: int = 120  # changes made one after another, delivered by webhook
    webhook_change_interval: float = 1.0  # seconds between two changes
    webhook_latency: float = 0.5  # seconds the API takes to answer while they are applied
    webhook_delivery_delay: float = 2.0  # deliveries leave up to this long after the change, shuffled
    run_baseline: bool = True
    repeat: int = 1  # runs of each unlimited full sync; the fastest is reported
    seed: int = SEED

    @classmethod
    def default(cls) -> BenchPlan:
        """The issue's sizes: minutes of wall time, most of it the rate-limited run and the old cron."""
        return cls("full", DEFAULT_SIZES, DEFAULT_REFERENCE_DEALS, API_REQUESTS_PER_MINUTE, DEFAULT_CHANGES,
                   DEFAULT_LATENCIES, OLD_PAGE_SIZE, OLD_PAUSE_SECONDS)

    @classmethod
    def tiny(cls) -> BenchPlan:
        """Seconds in all: 600 deals, the rate ten times higher and the old cron's pause ten times shorter."""
        return cls("tiny", (600,), 600, API_REQUESTS_PER_MINUTE * 10, (30, 2, 2), (0.0, 0.05), OLD_PAGE_SIZE,
                   OLD_PAUSE_SECONDS / 10, webhook_changes=15, webhook_change_interval=0.2, webhook_latency=0.05,
                   webhook_delivery_delay=0.2)

    def with_options(self, *, sizes: tuple[int, ...] | None = None, reference_deals: int | None = None,
                     run_baseline: bool | None = None, repeat: int | None = None,
                     latencies: tuple[float, ...] | None = None) -> BenchPlan:
        """A copy with the command line's choices."""
        changes: dict[str, Any] = {}
        if sizes is not None:
            changes["sizes"] = sizes
        if reference_deals is not None:
            changes["reference_deals"] = reference_deals
        if run_baseline is not None:
            changes["run_baseline"] = run_baseline
        if repeat is not None:
            changes["repeat"] = max(1, repeat)
        if latencies is not None:
            changes["latencies"] = latencies
        return replace(self, **changes)

    @property
    def all_sizes(self) -> tuple[int, ...]:
        """Every dataset the run needs, smallest first (one simulator each)."""
        return tuple(sorted({*self.sizes, self.reference_deals}))

    def floor_seconds(self, deals: int, contacts: int) -> float:
        """The least time a full sync's reading takes at this plan's rate: one request per 300 deals
        and per 300 contacts, nothing else (no key check, no probe, no last partial page)."""
        return (pages(deals) + pages(contacts)) * 60.0 / self.requests_per_minute

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready copy."""
        values = asdict(self)
        values["sizes"] = list(self.sizes)
        values["changes"] = dict(zip(("updates", "creates", "deletes"), self.changes, strict=True))
        values["latencies"] = list(self.latencies)
        return values

"""What one benchmark run measures: the sizes, the rate, the latencies, the changes, the old cron.

The defaults are the issues': full syncs of 30,000 and 300,000 deals with no limit (a regression
guard only: at 120 requests a minute the API caps production at 600 deals a second); the full
sync of 30,000 at 120 requests a minute with the API answering in 0, 0.5, 1 and 2 s and with an
uneven latency (0.6 s plus up to 2 s, 3% of answers at 4.8 s), against the floor, and at 2 s and
uneven again with each of the reader's refinements turned off (what each buys); a 6-hourly run
after 300 updates, 6 creations and 5 deletions at both sizes, with and without ``$count``; the old
cron's pages of 50 with a 500 ms pause; 120 changes a second apart, delivered by webhook and
applied at 120 requests a minute with the API answering after 0.5 s. ``tiny`` scales every one
down so the whole run takes seconds (``make test`` runs it); the floor is scaled with the rate.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace
from typing import Any

API_PAGE_SIZE = 300  # records a page the API returns at most
API_REQUESTS_PER_MINUTE = 120  # the account's budget
DEALS_PER_CONTACT = 15  # the simulator's default ratio (30,000 deals, 2,000 contacts)
DEFAULT_SIZES = (30_000, 300_000)
DEFAULT_REFERENCE_DEALS = 30_000
DEFAULT_CHANGES = (300, 6, 5)  # updates, creations, deletions between two 6-hourly runs
DEFAULT_COMMERCE_CHANGES = (20, 10, 5)  # new orders, catalogue prices changed, deletions of each of orders,
                                        # quotes and products, in the same interval
DEFAULT_LATENCIES = (0.0, 0.5, 1.0, 2.0)
RUNS_PER_DAY = 4
OLD_PAGE_SIZE = 50  # what the old cron asked for with $top
OLD_PAUSE_SECONDS = 0.5  # what it slept between pages
SEED = 42


@dataclass(frozen=True)
class Latency:
    """How long the simulator takes to answer: ``seconds``, plus up to ``jitter`` at random, except
    ``tail_percent`` of the answers, which take ``tail_seconds``."""

    seconds: float
    jitter: float = 0.0
    tail_percent: float = 0.0
    tail_seconds: float = 0.0

    @property
    def label(self) -> str:
        if not self.jitter and not self.tail_percent:
            return f"{self.seconds:g} s"
        text = f"{self.seconds:g} s + up to {self.jitter:g} s"
        return f"{text}, {self.tail_percent:g}% at {self.tail_seconds:g} s" if self.tail_percent else text

    def simulator(self) -> dict[str, float]:
        """The simulator's settings for it."""
        return {"latency_seconds": self.seconds, "latency_jitter_seconds": self.jitter,
                "latency_tail_percent": self.tail_percent, "latency_tail_seconds": self.tail_seconds}


UNEVEN = Latency(0.6, 2.0, 3.0, 4.8)  # what a real Airflow run was measured against (issue 19)
# The reader's refinements (attributes of ploomes_sync.api.reader.PageReader), each turned off in a
# run of its own at these latencies, to show what it buys.
READER_FEATURES = ("top_page", "by_position")
DEFAULT_FEATURE_LATENCIES = (Latency(2.0), UNEVEN)


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
    uneven: Latency | None = UNEVEN  # one more rate-limited full sync at this latency
    feature_latencies: tuple[Latency, ...] = DEFAULT_FEATURE_LATENCIES  # runs without each reader refinement
    reader_features: tuple[str, ...] = field(default=READER_FEATURES)
    commerce_changes: tuple[int, int, int] = DEFAULT_COMMERCE_CHANGES  # beside `changes`

    @classmethod
    def default(cls) -> BenchPlan:
        """The issue's sizes: minutes of wall time, most of it the rate-limited run and the old cron."""
        return cls("full", DEFAULT_SIZES, DEFAULT_REFERENCE_DEALS, API_REQUESTS_PER_MINUTE, DEFAULT_CHANGES,
                   DEFAULT_LATENCIES, OLD_PAGE_SIZE, OLD_PAUSE_SECONDS)

    @classmethod
    def tiny(cls) -> BenchPlan:
        """Seconds in all: 600 deals, the rate ten times higher and the old cron's pause ten times shorter."""
        tiny_uneven = Latency(0.06, 0.2, 3.0, 0.48)
        return cls("tiny", (600,), 600, API_REQUESTS_PER_MINUTE * 10, (30, 2, 2), (0.0, 0.05), OLD_PAGE_SIZE,
                   OLD_PAUSE_SECONDS / 10, webhook_changes=15, webhook_change_interval=0.2, webhook_latency=0.05,
                   webhook_delivery_delay=0.2, uneven=tiny_uneven, feature_latencies=(tiny_uneven,),
                   reader_features=("by_position",), commerce_changes=(2, 2, 1))

    def with_options(self, *, sizes: tuple[int, ...] | None = None, reference_deals: int | None = None,
                     run_baseline: bool | None = None, repeat: int | None = None,
                     latencies: tuple[float, ...] | None = None, features: bool | None = None) -> BenchPlan:
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
        if features is False:
            changes["feature_latencies"] = ()
        return replace(self, **changes)

    @property
    def latency_runs(self) -> list[tuple[Latency, str | None]]:
        """Every rate-limited full sync: its latency and the reader refinement turned off (None: none)."""
        runs: list[tuple[Latency, str | None]] = [(Latency(seconds), None) for seconds in self.latencies]
        if self.uneven is not None:
            runs.append((self.uneven, None))
        runs += [(latency, feature) for latency in self.feature_latencies for feature in self.reader_features]
        return runs

    @property
    def all_sizes(self) -> tuple[int, ...]:
        """Every dataset the run needs, smallest first (one simulator each)."""
        return tuple(sorted({*self.sizes, self.reference_deals}))

    def floor_seconds(self, *records: int) -> float:
        """The least time a full sync's reading takes at this plan's rate: one request per 300 records
        of each stream (deals, contacts, products, quotes, orders), nothing else (no key check, no
        probe, no last partial page)."""
        return sum(map(pages, records)) * 60.0 / self.requests_per_minute

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready copy."""
        values = asdict(self)
        values["sizes"] = list(self.sizes)
        values["changes"] = dict(zip(("updates", "creates", "deletes"), self.changes, strict=True))
        values["commerce_changes"] = dict(zip(("orders", "price_changes", "deletes_each"), self.commerce_changes,
                                              strict=True))
        values["latencies"] = list(self.latencies)
        values["latency_runs"] = [{"latency": latency.label, "without": feature}
                                  for latency, feature in self.latency_runs]
        return values

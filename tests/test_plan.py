"""The run plan: which records a run reads, and how it finds deletions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ploomes_sync.plan import (
    SAO_PAULO,
    PlanError,
    RunPlan,
    make_plan,
    odata_instant,
    stream_filter,
)
from tests.support.streams import STREAMS

NOW = datetime(2026, 11, 22, 9, 0, 5, tzinfo=UTC)  # the warehouse's clock
LOOKBACK = timedelta(minutes=30)
MARK = datetime(2026, 11, 22, 3, 0, tzinfo=UTC)


def plan(run_type="scheduled", params=None, watermarks=None, interval=(None, None), **listing) -> RunPlan:
    return make_plan(
        run_id="run-1", run_type=run_type, planned_at=NOW, params=params or {}, data_interval=interval,
        streams=STREAMS, watermarks=watermarks or {}, lookback=LOOKBACK, **listing,
    )


def deals_filter(p: RunPlan) -> str | None:
    return stream_filter(p, STREAMS["deals"])


def contacts_filter(p: RunPlan) -> str | None:
    return stream_filter(p, STREAMS["contacts"])


def listings(p: RunPlan) -> tuple[str, str]:
    return p.listing("deals"), p.listing("contacts")


class TestMakePlan:
    def test_without_a_watermark_the_run_is_full_and_its_extracts_are_the_listings(self):
        p = plan()
        assert p.mode == "full" and p.stream("deals").since is None and p.stream("deals").moves_watermark
        assert deals_filter(p) is None and contacts_filter(p) is None  # every record, up to now
        assert listings(p) == ("extract", "extract")

    def test_with_a_watermark_the_run_reads_from_it_less_the_lookback_with_no_upper_bound(self):
        p = plan(watermarks={"deals": MARK, "contacts": MARK})
        assert p.mode == "incremental" and p.stream("deals").since == MARK - LOOKBACK
        assert deals_filter(p) == "LastUpdateDate ge 2026-11-21T23:30:00-03:00"  # nothing visible deferred
        assert contacts_filter(p) == deals_filter(p)

    def test_full_refresh_ignores_watermarks(self):
        p = plan(params={"full_refresh": True}, watermarks={"deals": MARK, "contacts": MARK})
        assert p.mode == "full" and deals_filter(p) is None and contacts_filter(p) is None

    def test_date_range_covers_whole_sao_paulo_days_both_inclusive(self):
        p = plan(run_type="manual", params={"from_date": "2024-01-01", "to_date": "2024-12-31"},
                 watermarks={"deals": MARK, "contacts": MARK})
        assert p.mode == "range" and not p.stream("deals").moves_watermark and p.stream("contacts").moves_watermark
        assert p.created_from == datetime(2024, 1, 1, tzinfo=SAO_PAULO)
        assert p.created_to == datetime(2025, 1, 1, tzinfo=SAO_PAULO)
        assert deals_filter(p) == "CreateDate ge 2024-01-01T00:00:00-03:00 and CreateDate lt 2025-01-01T00:00:00-03:00"
        assert listings(p) == ("extract", "full")  # the contacts listing is due: none was made yet
        assert contacts_filter(p) == "LastUpdateDate ge 2026-11-21T23:30:00-03:00"

    def test_backfill_run_syncs_the_deals_created_in_its_data_interval(self):
        start = datetime(2025, 3, 1, 3, tzinfo=UTC)
        p = plan(run_type="backfill", interval=(start, start + timedelta(hours=6)))
        assert p.mode == "range" and p.created_from == start and p.created_to == start + timedelta(hours=6)
        assert deals_filter(p) == "CreateDate ge 2025-03-01T00:00:00-03:00 and CreateDate lt 2025-03-01T06:00:00-03:00"

    @pytest.mark.parametrize(
        "params, message",
        [
            ({"from_date": "2024-01-01"}, "both from_date and to_date"),
            ({"from_date": "2024-02-01", "to_date": "2024-01-01"}, "before from_date"),
            ({"from_date": "01/02/2024", "to_date": "2024-03-01"}, "YYYY-MM-DD"),
            ({"from_date": "2024-01-01", "to_date": "9999-12-31"}, "to_date=9999-12-31 is out of range: .* from "
             "1970-01-01 to 2100-12-31"),
            ({"from_date": "1900-01-01", "to_date": "2024-01-01"}, "from_date=1900-01-01 is out of range"),
            ({"full_refresh": "false"}, "full_refresh='false' must be true or false"),
            ({"confirm_mass_deletion": 1}, "confirm_mass_deletion=1 must be true or false"),
        ],
    )
    def test_bad_params_say_what_to_do(self, params, message):
        with pytest.raises(PlanError, match=message):
            plan(run_type="manual", params=params)

    def test_plan_survives_the_xcom_round_trip(self):
        p = plan(run_type="manual", params={"from_date": "2024-01-01", "to_date": "2024-01-31",
                                            "confirm_mass_deletion": True})
        assert RunPlan.from_xcom(p.to_xcom()) == p and p.confirm_mass_deletion


    def test_a_stream_without_a_watermark_yet_reads_everything_while_the_others_read_incrementally(self):
        p = plan(watermarks={"deals": MARK})
        assert p.mode == "incremental" and contacts_filter(p) is None and p.listing("contacts") == "extract"
        assert deals_filter(p) == "LastUpdateDate ge 2026-11-21T23:30:00-03:00"

    def test_a_range_run_lists_only_the_streams_read_by_creation_date(self):
        start = datetime(2025, 3, 1, 3, tzinfo=UTC)
        p = plan(run_type="backfill", interval=(start, start + timedelta(hours=6)))  # no contacts watermark
        assert p.stream("deals").created_range and not p.stream("contacts").created_range
        assert listings(p) == ("extract", "extract") and contacts_filter(p) is None


class TestListingDecision:
    marks = {"deals": MARK, "contacts": MARK}

    def test_an_incremental_run_counts_when_a_full_listing_is_recent_and_lists_fully_when_not(self):
        recent = {"deals": NOW - timedelta(hours=5), "contacts": NOW - timedelta(hours=5)}
        stale = {"deals": NOW - timedelta(hours=25), "contacts": NOW - timedelta(hours=5)}
        counted = plan(watermarks=self.marks, last_listing=recent, last_full_listing=recent)
        assert listings(counted) == ("count", "count")
        mixed = plan(watermarks=self.marks, last_listing=recent, last_full_listing=stale)
        assert listings(mixed) == ("full", "count")

    def test_full_listing_every_hours_zero_lists_every_record_every_run(self):
        recent = {"deals": NOW - timedelta(minutes=1), "contacts": NOW - timedelta(minutes=1)}
        p = plan(watermarks=self.marks, last_listing=recent, last_full_listing=recent, full_listing_every_hours=0)
        assert listings(p) == ("full", "full")

    def test_between_listings_a_run_lists_nothing(self):
        recent = {"deals": NOW - timedelta(hours=2), "contacts": NOW - timedelta(hours=30)}
        p = plan(watermarks=self.marks, last_listing=recent, last_full_listing=recent, listing_every_hours=24)
        assert listings(p) == ("none", "full")


def test_odata_instant_keeps_milliseconds_and_the_sao_paulo_offset():
    value = datetime(2024, 1, 1, 2, 59, 59, 957000, tzinfo=UTC)
    assert odata_instant(value) == "2023-12-31T23:59:59.957-03:00"

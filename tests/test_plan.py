"""The run plan: which records a run reads."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ploomes_sync.plan import (
    SAO_PAULO,
    PlanError,
    RunPlan,
    contacts_filter,
    deals_filter,
    listing_filter,
    make_plan,
    odata_instant,
)

STARTED = datetime(2026, 11, 22, 9, 0, 5, tzinfo=UTC)
LAG, LOOKBACK = timedelta(minutes=2), timedelta(minutes=30)


def plan(run_type="scheduled", params=None, watermarks=None, interval=(None, None)) -> RunPlan:
    return make_plan(
        run_key="run-1", run_type=run_type, run_started_at=STARTED, params=params or {},
        data_interval=interval, watermarks=watermarks or {}, lookback=LOOKBACK, safety_lag=LAG,
    )


class TestMakePlan:
    def test_without_a_watermark_the_run_is_full_and_reads_every_deal(self):
        p = plan()
        assert p.mode == "full" and p.deals_from is None and p.cutoff == STARTED - LAG
        assert deals_filter(p) is None  # every deal: the extract is also the validation's listing
        assert contacts_filter(p) == "LastUpdateDate lt 2026-11-22T05:58:05-03:00"
        assert listing_filter(p) is None and p.moves_deals_watermark

    def test_with_a_watermark_the_run_reads_from_it_less_the_lookback(self):
        mark = datetime(2026, 11, 22, 3, 0, tzinfo=UTC)
        p = plan(watermarks={"deals": mark, "contacts": mark})
        assert p.mode == "incremental" and p.deals_from == mark - LOOKBACK
        assert deals_filter(p) == (
            "LastUpdateDate ge 2026-11-21T23:30:00-03:00 and LastUpdateDate lt 2026-11-22T05:58:05-03:00"
        )
        assert contacts_filter(p) == deals_filter(p)

    def test_full_refresh_ignores_watermarks(self):
        mark = datetime(2026, 11, 22, 3, 0, tzinfo=UTC)
        p = plan(params={"full_refresh": True}, watermarks={"deals": mark, "contacts": mark})
        assert p.mode == "full" and contacts_filter(p) == "LastUpdateDate lt 2026-11-22T05:58:05-03:00"

    def test_date_range_covers_whole_sao_paulo_days_both_inclusive(self):
        p = plan(run_type="manual", params={"from_date": "2024-01-01", "to_date": "2024-12-31"})
        assert p.mode == "range" and not p.moves_deals_watermark
        assert p.created_from == datetime(2024, 1, 1, tzinfo=SAO_PAULO)
        assert p.created_to == datetime(2025, 1, 1, tzinfo=SAO_PAULO)
        expected = "CreateDate ge 2024-01-01T00:00:00-03:00 and CreateDate lt 2025-01-01T00:00:00-03:00"
        assert deals_filter(p) == expected and listing_filter(p) == expected

    def test_backfill_run_syncs_the_deals_created_in_its_data_interval(self):
        start = datetime(2025, 3, 1, 3, tzinfo=UTC)
        p = plan(run_type="backfill", interval=(start, start + timedelta(hours=6)))
        assert p.mode == "range" and p.created_from == start and p.created_to == start + timedelta(hours=6)
        assert deals_filter(p) == (
            "CreateDate ge 2025-03-01T00:00:00-03:00 and CreateDate lt 2025-03-01T06:00:00-03:00"
        )

    @pytest.mark.parametrize(
        "params, message",
        [
            ({"from_date": "2024-01-01"}, "both from_date and to_date"),
            ({"from_date": "2024-02-01", "to_date": "2024-01-01"}, "before from_date"),
            ({"from_date": "01/02/2024", "to_date": "2024-03-01"}, "YYYY-MM-DD"),
        ],
    )
    def test_bad_params_say_what_to_do(self, params, message):
        with pytest.raises(PlanError, match=message):
            plan(run_type="manual", params=params)

    def test_plan_survives_the_xcom_round_trip(self):
        p = plan(run_type="manual", params={"from_date": "2024-01-01", "to_date": "2024-01-31"})
        assert RunPlan.from_xcom(p.to_xcom()) == p


def test_odata_instant_keeps_milliseconds_and_the_sao_paulo_offset():
    value = datetime(2024, 1, 1, 2, 59, 59, 957000, tzinfo=UTC)
    assert odata_instant(value) == "2023-12-31T23:59:59.957-03:00"

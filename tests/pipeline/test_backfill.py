"""An Airflow backfill's runs share one re-sync (ploomes_sync.warehouse.backfill).

``Backfill`` plays Airflow's part: the runs it created, which it holds queued or running until each
finishes, and its answer to "how many of these logical dates have such a run". The runs are the
DAG's tasks in-process, against the simulator and a real PostgreSQL.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import psycopg
import pytest

from ploomes_devkit.pipeline import Pipeline, PipelineRun
from ploomes_sync.settings import BACKFILL_CLAIM_HOURS
from ploomes_sync.warehouse.backfill import consecutive_active
from tests.support.truth import assert_warehouse_equals_simulator, make_stale

SAO_PAULO = ZoneInfo("America/Sao_Paulo")
STEP = timedelta(hours=6)


class Backfill:
    """Airflow's side of a backfill of ``days`` days from ``first``: one run per 6 hours, each
    queued from the start and active until it has run."""

    def __init__(self, first: date, days: int) -> None:
        start = datetime.combine(first, time(0), tzinfo=SAO_PAULO)
        self.intervals = [(start + STEP * k, start + STEP * (k + 1)) for k in range(days * 4)]
        self.active = {begin for begin, _ in self.intervals}
        self.questions = 0

    @property
    def range(self) -> tuple[datetime, datetime]:
        return self.intervals[0][0], self.intervals[-1][1]

    def active_runs(self, logical_dates: Sequence[datetime]) -> int:
        self.questions += 1
        return sum(1 for moment in logical_dates if moment in self.active)

    def run(self, pipeline: Pipeline, k: int) -> PipelineRun:
        begin, end = self.intervals[k]
        try:
            return pipeline.run(run_id=f"backfill__{end.isoformat()}", run_type="backfill",
                                data_interval=(begin, end), active_runs=self.active_runs)
        finally:
            self.active.discard(begin)

    def run_all(self, pipeline: Pipeline) -> list[PipelineRun]:
        return [self.run(pipeline, k) for k in range(len(self.intervals))]


def busiest_week(sim) -> date:
    days = Counter(datetime.fromisoformat(d["CreateDate"]).astimezone(SAO_PAULO).date()
                   for d in sim.admin.truth_deals())
    return max((day for day in days if day.year == 2024),
               key=lambda day: sum(days[day + timedelta(days=i)] for i in range(7)))


def deals_created_in(sim, start: datetime, end: datetime) -> list[dict]:
    return [d for d in sim.admin.truth_deals() if start <= datetime.fromisoformat(d["CreateDate"]) < end]


def history(db_url: str, run_id: str) -> dict | None:
    with psycopg.connect(db_url) as conn:
        row = conn.execute("SELECT mode, status, window_start, window_end, streams FROM ploomes_sync.run_history "
                           "WHERE run_id = %s", [run_id]).fetchone()
    return None if row is None else dict(zip(("mode", "status", "window_start", "window_end", "streams"), row,
                                             strict=True))


def stale(db_url: str, ids: list[int]) -> None:
    with psycopg.connect(db_url) as conn:
        make_stale(conn, ids)


def titles(db_url: str, ids: list[int]) -> dict[int, str]:
    with psycopg.connect(db_url) as conn:
        return dict(conn.execute("SELECT id, title FROM public.sales WHERE id = ANY(%s)", [ids]).fetchall())


def losing_its_worker(db_url: str) -> Pipeline:
    """A pipeline whose runs fail in ``extract_deals`` (the claimer's worker lost mid-run)."""
    def before(task: str) -> None:
        if task == "extract_deals":
            raise RuntimeError("worker lost")
    return Pipeline(db_url, before=before)


@pytest.fixture
def synced(sim, db_url) -> Pipeline:
    pipeline = Pipeline(db_url)
    assert pipeline.run().status == "success"
    return pipeline


class TestProbe:
    def test_counts_the_run_of_active_dates_up_to_the_first_gap(self):
        first = datetime(2024, 1, 1, tzinfo=SAO_PAULO)
        for length in (0, 1, 7, 8, 9, 100, 1_465):
            active = {first + STEP * k for k in range(length)} | {first + STEP * (length + 1)}  # then a gap
            asked = []

            def count(dates, active=active, asked=asked) -> int:
                asked.append(len(dates))
                return sum(1 for d in dates if d in active)

            assert consecutive_active(first, STEP, count, limit=3_000) == length
            assert max(asked) <= 120, "a question names at most 120 dates (they go in a URL)"
            assert len(asked) <= 2 * max(length, 1).bit_length() + 4, asked

    def test_goes_backwards_with_a_negative_step_and_stops_at_the_limit(self):
        last = datetime(2024, 6, 30, 18, tzinfo=SAO_PAULO)
        active = {last - STEP * k for k in range(50)}
        assert consecutive_active(last, -STEP, lambda dates: sum(d in active for d in dates), limit=20) == 20
        assert consecutive_active(last, -STEP, lambda dates: sum(d in active for d in dates), limit=500) == 50


class TestOneReSyncForTheWholeBackfill:
    def test_the_first_run_re_syncs_the_backfill_and_the_others_end_in_plan_run(self, sim, db_url, synced):
        week = busiest_week(sim)
        backfill = Backfill(week, days=7)
        created = deals_created_in(sim, *backfill.range)
        assert len(created) > 3
        ids = [d["Id"] for d in created]
        stale(db_url, ids)

        runs = backfill.run_all(synced)

        first, rest = runs[0], runs[1:]
        assert first.status == "success"
        record = history(db_url, first.run_id)
        assert (record["mode"], record["window_start"], record["window_end"]) == ("range", *backfill.range)
        assert record["streams"]["deals"]["fetched"] == len(created)
        assert titles(db_url, ids) == {d["Id"]: d["Title"] for d in created}, "the stale rows are repaired"
        for run in rest:
            assert run.plan["covered_by"] == first.run_id
            assert "plan_run" not in run.skipped and "extract_deals" in run.skipped
            assert run.api_requests == 0 and history(db_url, run.run_id) is None
        assert len(runs) == 28 and backfill.questions < 30
        with psycopg.connect(db_url) as conn:
            assert_warehouse_equals_simulator(conn, sim.admin)
            assert conn.execute("SELECT count(*) FROM ploomes_sync.backfill_claims "
                                "WHERE claimed_by <> %s", [first.run_id]).fetchone()[0] == 0, "every claim taken"

    def test_it_costs_what_the_date_range_run_of_the_same_days_costs(self, sim, db_url, synced):
        week = busiest_week(sim)
        last = week + timedelta(days=6)
        by_range = synced.run(params={"from_date": week.isoformat(), "to_date": last.isoformat()})
        assert by_range.status == "success"

        runs = Backfill(week, days=7).run_all(synced)

        assert all(run.status == "success" for run in runs if run.plan.get("covered_by") is None)
        spent = sum(run.api_requests for run in runs)
        assert spent <= by_range.api_requests + 1, (spent, by_range.api_requests)

    def test_runs_side_by_side_share_it_whichever_plans_first(self, sim, db_url, synced):
        backfill = Backfill(busiest_week(sim), days=2)
        middle = backfill.run(synced, 3)  # Airflow started several; the fourth planned first
        assert middle.status == "success"
        assert (history(db_url, middle.run_id)["window_start"], history(db_url, middle.run_id)["window_end"]) \
            == backfill.range, "it re-syncs the runs before it too"
        others = [backfill.run(synced, k) for k in (0, 1, 2, 4, 5, 6, 7)]
        assert all(run.plan["covered_by"] == middle.run_id for run in others)


class TestWhatAClaimPromises:
    def test_a_retried_claimer_re_syncs_the_range_it_claimed(self, sim, db_url, synced):
        backfill = Backfill(busiest_week(sim), days=3)
        begin, end = backfill.intervals[0]
        run_id = f"backfill__{end.isoformat()}"
        failing = losing_its_worker(db_url)
        with pytest.raises(RuntimeError, match="worker lost"):
            failing.run(run_id=run_id, run_type="backfill", data_interval=(begin, end),
                        active_runs=backfill.active_runs)
        assert history(db_url, run_id)["status"] == "failed"

        again = synced.run(run_id=run_id, run_type="backfill", data_interval=(begin, end),
                           active_runs=lambda dates: 0)  # Airflow's answer has changed; the claim has not
        assert again.status == "success"
        assert (history(db_url, run_id)["window_start"], history(db_url, run_id)["window_end"]) == backfill.range

    def test_a_run_whose_claimer_failed_re_syncs_its_own_interval(self, sim, db_url, synced):
        backfill = Backfill(busiest_week(sim), days=2)
        failing = losing_its_worker(db_url)
        with pytest.raises(RuntimeError):
            backfill.run(failing, 0)

        second = backfill.run(synced, 1)

        assert second.plan.get("covered_by") is None and second.status == "success"
        record = history(db_url, second.run_id)
        assert (record["window_start"], record["window_end"]) == backfill.intervals[1]

    def test_a_claim_nobody_took_in_time_is_not_counted_on(self, sim, db_url, synced):
        backfill = Backfill(busiest_week(sim), days=2)
        backfill.run(synced, 0)
        backfill.active -= {begin for begin, _ in backfill.intervals[1:5]}  # their runs were deleted
        with psycopg.connect(db_url) as conn:
            conn.execute("UPDATE ploomes_sync.backfill_claims"
                         " SET claimed_at = claimed_at - make_interval(secs => %s * 3600)",
                         [BACKFILL_CLAIM_HOURS + 1])

        late = backfill.run(synced, 5)

        assert late.plan.get("covered_by") is None and late.status == "success"
        assert (history(db_url, late.run_id)["window_start"], history(db_url, late.run_id)["window_end"]) == \
            (backfill.intervals[5][0], backfill.range[1])

    def test_a_later_backfill_of_the_same_days_re_syncs_again(self, sim, db_url, synced):
        week = busiest_week(sim)
        Backfill(week, days=2).run_all(synced)
        created = deals_created_in(sim, *Backfill(week, days=2).range)
        stale(db_url, [d["Id"] for d in created])  # edited by hand after the first backfill

        again = Backfill(week, days=2).run_all(synced)  # same run ids, as Airflow's would be

        assert again[0].plan.get("covered_by") is None and again[0].status == "success"
        assert all(run.plan["covered_by"] == again[0].run_id for run in again[1:])
        assert titles(db_url, [d["Id"] for d in created]) == {d["Id"]: d["Title"] for d in created}

"""A run loads every change visible when it reads, whatever the clocks say.

- No change waits for the next run: a deal fixed a moment before a run is loaded by that run.
- Two runs back to back, with updates, deletions and creations made while the first one reads,
  end with every table equal to Ploomes.
- One clock per comparison: the worker's clock decides nothing (the windows are Ploomes' time, the
  listing's timing the warehouse's), so a worker whose clock is 10 minutes off still converges.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
import time_machine
from requests import PreparedRequest, Response

from ploomes_devkit.pipeline import Pipeline
from ploomes_devkit.simulator_process import SimulatorProcess
from ploomes_simulator import RunningSimulator
from ploomes_sync.hooks.ploomes import PloomesHook
from tests.reliability.harness import CONFIG, assert_converged, connection_json, run_ok, run_status


class MeddlingHook(PloomesHook):
    """Changes Ploomes (updates, deletions, creations) once the deals extract has read a few pages."""

    def __init__(self, sim: RunningSimulator, after_pages: int, **arguments: Any) -> None:
        super().__init__(**arguments)
        self.sim, self.after_pages, self.seen, self.changed = sim, after_pages, 0, None

    def send(self, prepared: PreparedRequest, cancel=None) -> Response:
        if "/Deals?" in (prepared.url or "") and "Title" in (prepared.url or ""):
            self.seen += 1
            if self.seen == self.after_pages and self.changed is None:
                self.changed = self.sim.admin.mutate(updates=30, deletes=8, creates=6, seed=9)
        return super().send(prepared, cancel)


def test_a_deal_fixed_a_moment_before_a_run_is_loaded_by_that_run(sim, db_url, pipeline) -> None:
    run_ok(pipeline, db_url, sim.admin, "baseline")
    deal = sim.admin.truth_deals()[10]["Id"]
    sim.admin.update_deal(deal, StatusId=2, Amount=4321.0, Title="fixed just now")

    run_ok(pipeline, db_url, sim.admin, "right-after")  # equal to the truth, the fix included


def test_back_to_back_runs_with_changes_during_the_first_read_end_equal_to_ploomes(
    sim, db_url, connect,
) -> None:
    connect(page_size=20)
    run_ok(Pipeline(db_url, config=CONFIG), db_url, sim.admin, "baseline")
    hooks: list[MeddlingHook] = []

    def meddling(**arguments: Any) -> PloomesHook:
        hooks.append(MeddlingHook(sim, after_pages=3, **arguments))
        return hooks[-1]

    sim.admin.mutate(updates=10, seed=1)  # so the first run has pages to read
    first = Pipeline(db_url, config=CONFIG, hook_factory=meddling).run(run_id="first", run_type="scheduled",
                                                                        params={"full_refresh": True})
    assert any(hook.changed for hook in hooks), "the changes were made during the first run's read"
    assert run_status(db_url, "first")["status"] == "success"
    assert first.results["validate_by_year"]["compared"]

    run_ok(Pipeline(db_url, config=CONFIG), db_url, sim.admin, "second")  # every table equals Ploomes


@pytest.fixture
def sim_process(api_key: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[SimulatorProcess]:
    """The simulator in a process of its own: the worker's clock is moved, Ploomes' is not."""
    with SimulatorProcess(deals=600, contacts=60, seed=6, api_key=api_key, rate_limit=0) as running:
        monkeypatch.setenv("AIRFLOW_CONN_PLOOMES_DEFAULT", connection_json(running.url, api_key))
        yield running


@pytest.mark.parametrize("skew", [timedelta(minutes=-10), timedelta(minutes=10)], ids=["behind", "ahead"])
def test_a_worker_whose_clock_is_ten_minutes_off_still_converges(sim_process, db_url, skew) -> None:
    admin = sim_process.admin
    pipeline = Pipeline(db_url, config=CONFIG)
    with time_machine.travel(datetime.now().astimezone() + skew, tick=True):
        run_ok(pipeline, db_url, admin, "first")
        admin.mutate(updates=25, deletes=4, creates=3, seed=2)
        admin.update_contact(admin.truth_contacts()[0]["Id"], Name="Renomeada agora")
        second = run_ok(pipeline, db_url, admin, "second")  # loaded by this run, not deferred
        assert second.plan["mode"] == "incremental"
        marks = json.loads(json.dumps(run_status(db_url, "second")["watermarks_after"]))
    # the watermarks are Ploomes' time (within seconds of the simulator's clock), not the worker's
    for value in marks.values():
        assert abs(datetime.fromisoformat(value) - datetime.now().astimezone()) < timedelta(minutes=5)
    assert_converged(db_url, admin)

"""A change in the very millisecond the run's cutoff falls in.

Ploomes writes ``LastUpdateDate`` to the millisecond and the extract's ``$filter`` writes the cutoff
to the millisecond; were the plan's cutoff kept to the microsecond, a record changed in the
cutoff's own millisecond would be left out of the extract yet counted by the per-year check
(``updated_at < cutoff``), failing a run that did nothing wrong.
"""

from __future__ import annotations

from datetime import timedelta

from ploomes_devkit.pipeline import Pipeline
from ploomes_simulator import RunningSimulator
from ploomes_sync.records import parse_instant
from tests.reliability.harness import run_ok, run_status


def test_a_change_in_the_cutoffs_millisecond_is_left_for_the_next_run_by_both_extract_and_check(
    sim: RunningSimulator, db_url: str, pipeline: Pipeline,
) -> None:
    run_ok(pipeline, db_url, sim.admin, "baseline")
    deal = sim.admin.mutate(updates=1, seed=5)["updated"][0]
    sim.admin.update_deal(deal, StatusId=2, Amount=1234.56)
    changed_at = parse_instant(sim.admin.get_deal(deal)["LastUpdateDate"])

    pipeline.run(run_key="edge", run_started_at=changed_at + timedelta(microseconds=600))
    assert run_status(db_url, "edge")["status"] == "success"

    run_ok(pipeline, db_url, sim.admin, "next")

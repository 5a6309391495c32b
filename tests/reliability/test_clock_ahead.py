"""Records dated ahead of Ploomes' clock (a clock glitch, an import that set the dates).

Measured against an independent stand-in of the API: with 3% of the deals carrying a
``LastUpdateDate`` days ahead, their later updates (which carry today's date, earlier than the
stored one) froze in the warehouse, their deletions were never found, and the check passed. Here:

- a version read later in Ploomes' clock wins over one read earlier, whatever the dates say;
- a date after Ploomes' clock hides no record from a count listing: the deletion is found;
- the check compares records dated ahead, and fails naming them when the warehouse differs.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import UTC, datetime

import psycopg
import pytest

from ploomes_devkit.pipeline import Pipeline
from ploomes_simulator import RunningSimulator, SimulatorConfig, run_in_thread
from ploomes_sync import records, tasks
from ploomes_sync.tasks import ValidationMismatch
from tests.reliability.conftest import SIM_CONTACTS, SIM_DEALS
from tests.reliability.harness import CONFIG, assert_converged, extract_only, run_fails, run_ok
from tests.support.streams import DEALS

FULL_LISTING = dataclasses.replace(CONFIG, full_listing_every_hours=0)


@pytest.fixture
def sim(api_key: str) -> Iterator[RunningSimulator]:
    """The suite's simulator, with 3% of deals and contacts dated days ahead of its clock."""
    config = SimulatorConfig(deals=SIM_DEALS, contacts=SIM_CONTACTS, seed=6, api_key=api_key, rate_limit=0,
                             dated_ahead_percent=3)
    with run_in_thread(config) as running:
        yield running


def dated_ahead(rows: list[dict]) -> tuple[list[dict], list[dict]]:
    """``rows`` split into those dated after now and the others."""
    now = datetime.now(UTC)
    ahead = [r for r in rows if records.instant(r["LastUpdateDate"], "LastUpdateDate") > now]
    return ahead, [r for r in rows if r not in ahead]


def test_updates_and_deletions_of_deals_dated_ahead_reach_the_warehouse(sim, db_url, pipeline) -> None:
    run_ok(pipeline, db_url, sim.admin, "baseline")
    ahead, others = dated_ahead(sim.admin.truth_deals())
    assert len(ahead) == round(SIM_DEALS * 0.03)
    contacts_ahead, _ = dated_ahead(sim.admin.truth_contacts())
    assert contacts_ahead

    for n, deal in enumerate(ahead[:9] + others[:9]):  # now dated today: earlier than what is stored
        sim.admin.update_deal(deal["Id"], Title=f"edited {n}", Amount=1000 + n)
    for deal in ahead[9:12] + others[9:12]:
        sim.admin.delete_deal(deal["Id"])
    sim.admin.update_contact(contacts_ahead[0]["Id"], Name="Renamed while dated ahead")

    run = run_ok(pipeline, db_url, sim.admin, "after")

    assert run.results["list_deletions"]["deals"]["method"] == "count"
    assert run.results["reconcile_deletions"]["deals"]["deleted"] == 6
    assert run.results["validate_by_year"]["compared"]


def test_a_deletion_of_a_contact_dated_ahead_is_found_by_the_count_listing(sim, db_url, pipeline) -> None:
    run_ok(pipeline, db_url, sim.admin, "baseline")
    contacts_ahead, _ = dated_ahead(sim.admin.truth_contacts())
    sim.admin.delete_contact(contacts_ahead[0]["Id"])

    run = run_ok(pipeline, db_url, sim.admin, "after")

    assert run.results["list_deletions"]["contacts"]["method"] == "count"
    assert run.results["reconcile_deletions"]["contacts"]["deleted"] == 1


def test_an_older_read_carrying_a_date_ahead_never_overwrites_a_later_read(sim, db_url, pipeline) -> None:
    run_ok(pipeline, db_url, sim.admin, "baseline")
    deal = dated_ahead(sim.admin.truth_deals())[0][0]
    slow = extract_only(db_url, "slow")  # read the deal while it was dated ahead ...
    sim.admin.update_deal(deal["Id"], Title="newer, dated today")
    run_ok(pipeline, db_url, sim.admin, "fast")  # ... a later run loads the newer version first

    with psycopg.connect(db_url) as conn:
        tasks.load(DEALS, slow, conn=conn)  # the slow run's load comes last
        title = conn.execute("SELECT title FROM public.sales WHERE id = %s", [deal["Id"]]).fetchone()[0]

    assert title == "newer, dated today"
    assert_converged(db_url, sim.admin)


def test_the_check_compares_deals_dated_ahead_and_names_those_that_differ(sim, db_url, connect) -> None:
    pipeline = Pipeline(db_url, config=FULL_LISTING)
    run_ok(pipeline, db_url, sim.admin, "baseline")
    deal = dated_ahead(sim.admin.truth_deals())[0][0]

    def corrupt(task: str) -> None:
        if task == "validate_by_year":  # the warehouse differs from Ploomes when the check runs
            with psycopg.connect(db_url) as conn:
                conn.execute("UPDATE public.sales SET deal_value = coalesce(deal_value, 0) + 1 WHERE id = %s",
                             [deal["Id"]])

    failure = run_fails(Pipeline(db_url, config=FULL_LISTING, before=corrupt), "corrupted", ValidationMismatch)

    assert str(deal["Id"]) in str(failure.value)


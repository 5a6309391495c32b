"""Nothing leaves ``public`` by mistake, and what Ploomes deleted does leave it.

- A listing that suddenly hides 60% of the deals (the integration user lost permission) deletes
  nothing: the reconcile fails with the counts and the likely causes. A real mass deletion is
  refused the same way until a run confirms it.
- A deal or contact Ploomes still has but whose new version is set aside keeps its last good
  version; the listing's rejects count toward the threshold like the extract's.
- Contacts deleted in Ploomes leave ``public.customers`` (archived), and ``customer_sales`` follows.
- Any task retried or cleared, a run still ends with ``customer_sales`` equal to what ``sales``
  and ``customers`` say.
"""

from __future__ import annotations

import dataclasses

import psycopg
import pytest

from ploomes_devkit.pipeline import Pipeline
from ploomes_sync import tasks
from ploomes_sync.hooks.ploomes import PloomesHook
from ploomes_sync.plan import RunPlan
from ploomes_sync.tasks import MassDeletionRefused, TooManyRejects
from tests.reliability.harness import (
    CONFIG,
    assert_converged,
    assert_unchanged,
    run_fails,
    run_ok,
    run_status,
    snapshot,
)
from tests.support.truth import CUSTOMER_SALES_COLUMNS, expected_customer_sales, warehouse_rows

FULL_LISTING = dataclasses.replace(CONFIG, full_listing_every_hours=0)


@pytest.mark.parametrize("config", [CONFIG, FULL_LISTING], ids=["count listing", "full listing"])
def test_a_listing_that_suddenly_hides_most_deals_deletes_nothing_and_says_why(sim, db_url, connect,
                                                                               config) -> None:
    pipeline = Pipeline(db_url, config=config)
    run_ok(pipeline, db_url, sim.admin, "baseline")
    before = snapshot(db_url)
    sim.admin.configure(hidden_deals_percent=60)  # the key lost permission to most deals

    failure = run_fails(pipeline, "hidden", MassDeletionRefused)

    message = str(failure.value)
    assert "Refused to remove" in message and "of the 600 rows of public.sales" in message
    assert "lost permission" in message and "confirm_mass_deletion" in message and "Nothing was deleted" in message
    assert 0.5 < failure.value.gone / 600 < 0.7
    assert_unchanged(db_url, before, streams=())
    assert run_status(db_url, "hidden")["status"] == "failed"

    sim.admin.configure(hidden_deals_percent=0)  # permission restored: the next run converges
    run_ok(pipeline, db_url, sim.admin, "restored")


def test_a_real_mass_deletion_is_refused_until_a_run_confirms_it(sim, db_url, pipeline) -> None:
    run_ok(pipeline, db_url, sim.admin, "baseline")
    sim.admin.mutate(deletes=250, seed=8)

    failure = run_fails(pipeline, "bulk", MassDeletionRefused)
    assert failure.value.gone == 250

    run = pipeline.run(run_id="confirmed", params={"confirm_mass_deletion": True})
    assert run.results["reconcile_deletions"]["deals"]["deleted"] == 250
    assert_converged(db_url, sim.admin)
    with psycopg.connect(db_url) as conn:
        assert conn.execute("SELECT count(*) FROM ploomes_sync.deleted_sales").fetchone()[0] == 250


@pytest.mark.parametrize("config", [CONFIG, FULL_LISTING], ids=["count listing", "full listing"])
def test_a_hostile_update_of_an_existing_deal_and_contact_keeps_their_last_good_version(
    sim, db_url, connect, config,
) -> None:
    pipeline = Pipeline(db_url, config=config)
    run_ok(pipeline, db_url, sim.admin, "baseline")
    deal = sim.admin.truth_deals()[100]
    contact = sim.admin.truth_contacts()[5]
    before = snapshot(db_url)
    sim.admin.update_deal(deal["Id"], Title="a new title")  # a valid change first, so the window holds it
    sim.admin.update_deal_raw(deal["Id"], {"StatusId": 9})  # then a status nobody knows
    sim.admin.update_contact(contact["Id"], Name="renamed")
    sim.admin.update_contact_raw(contact["Id"], {"CreateDate": "ontem"})

    run = pipeline.run(run_id="hostile-update", run_type="scheduled")

    assert run.status == "success"
    after = snapshot(db_url)
    for table in ("sales", "customers"):
        assert after.tables[table] == before.tables[table], f"public.{table} changed"  # last good versions
    _customer_sales_follows_the_tables(db_url)
    with psycopg.connect(db_url) as conn:
        reasons = dict(conn.execute("SELECT stream, reason FROM ploomes_sync.rejects WHERE run_id = %s "
                                    "AND record_id IN (%s, %s)", ["hostile-update", str(deal["Id"]),
                                                                  str(contact["Id"])]).fetchall())
    assert "StatusId" in reasons["deals"] and "CreateDate" in reasons["contacts"]
    history = run_status(db_url, "hostile-update")
    assert history["checks"]["deals"]["left_out"]["rejected"] >= 1


def test_listing_rejects_count_toward_the_threshold(sim, db_url, connect) -> None:
    pipeline = Pipeline(db_url, config=FULL_LISTING)
    run_ok(pipeline, db_url, sim.admin, "baseline")
    before = snapshot(db_url)
    for deal in sim.admin.truth_deals()[:30]:  # 5% of the deals, unchanged since the baseline's watermark
        sim.admin.update_deal_raw(deal["Id"], {"Amount": "muito"})

    failure = run_fails(pipeline, "listing-rejects", TooManyRejects)

    assert "deals_listing" in str(failure.value) and "30 of 600" in str(failure.value)
    assert_unchanged(db_url, before, streams=())  # nothing deleted


def test_contacts_deleted_in_ploomes_leave_customers_and_customer_sales_follows(sim, db_url, pipeline) -> None:
    run_ok(pipeline, db_url, sim.admin, "baseline")
    with psycopg.connect(db_url) as conn:
        with_deals = [row[0] for row in conn.execute(
            "SELECT customer_id FROM public.customer_sales WHERE customer_name IS NOT NULL LIMIT 3").fetchall()]
    for contact_id in with_deals:
        sim.admin.delete_contact(contact_id)

    run = run_ok(pipeline, db_url, sim.admin, "contacts-gone")  # customer_sales: names now null

    assert run.results["reconcile_deletions"]["contacts"]["deleted"] == 3
    with psycopg.connect(db_url) as conn:
        archived = sorted(row[0] for row in conn.execute("SELECT id FROM ploomes_sync.deleted_customers"))
        names = conn.execute("SELECT count(*) FROM public.customer_sales WHERE customer_id = ANY(%s) "
                             "AND customer_name IS NULL", [with_deals]).fetchone()[0]
    assert archived == sorted(with_deals) and names == 3


def _customer_sales_follows_the_tables(db_url: str) -> None:
    with psycopg.connect(db_url) as conn:
        sales = warehouse_rows(conn, "sales", ("id", "customer_id", "won", "deal_value", "closed_at",
                                                "created_at"), "id")
        customers = warehouse_rows(conn, "customers", ("id", "name", "cnpj"), "id")
        actual = warehouse_rows(conn, "customer_sales", CUSTOMER_SALES_COLUMNS, "customer_id")
    expected = expected_customer_sales(sales, customers)
    assert actual == expected


@pytest.mark.parametrize("failing", ["aggregate_customer_sales", "validate_by_year"])
def test_a_run_that_fails_after_its_reconcile_leaves_customer_sales_consistent_and_retries_converge(
    sim, db_url, pipeline, failing,
) -> None:
    run_ok(pipeline, db_url, sim.admin, "baseline")
    sim.admin.mutate(updates=20, deletes=6, creates=4, seed=12)

    def fail(task: str) -> None:
        if task == failing:
            raise RuntimeError(f"{task} lost its worker")

    interrupted = Pipeline(db_url, config=CONFIG, before=fail)
    with pytest.raises(RuntimeError, match="lost its worker"):
        interrupted.run(run_id="interrupted")
    _customer_sales_follows_the_tables(db_url)  # every commit left the three tables consistent

    # Airflow retries the failed task (and clears the tasks after the listing, twice), with the plan
    # plan_run handed over through XCom: the same end.
    plan = RunPlan.from_xcom(interrupted.last_run.plan)
    for _ in range(2):
        with psycopg.connect(db_url) as conn, psycopg.connect(db_url) as reject_conn:
            tasks.reconcile_deletions(plan, hook=PloomesHook(), conn=conn, reject_conn=reject_conn, config=CONFIG)
            tasks.aggregate_customer_sales(plan, conn=conn)
            tasks.validate_by_year(plan, conn=conn)
        _customer_sales_follows_the_tables(db_url)
    assert_converged(db_url, sim.admin)

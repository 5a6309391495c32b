"""The count listing: where ``$count`` is answered, deletions are found by probes, each one request
for the first page of a range with its count, the page listed (``ploomes_sync.tasks.listing``)."""

from __future__ import annotations

import random

import psycopg
import pytest

from ploomes_devkit.pipeline import Pipeline
from ploomes_sync import warehouse
from ploomes_sync.api.paging import select_with_key
from ploomes_sync.config import SyncConfig
from ploomes_sync.streams import registry
from tests.support.connections import use_ploomes
from tests.support.truth import assert_warehouse_equals_simulator

PAGE = 50  # 900 deals: 18 pages


def _listing_requests(sim, stream: str = "deals") -> list[dict]:
    """Requests of the listing task: those that select what the stream's listing reads."""
    listing = registry()[stream].listing()
    select = ",".join(select_with_key(listing.select))
    return [r for r in sim.admin.requests()
            if r["path"] == f"/{listing.endpoint}" and r["query"].get("$select") == select]


@pytest.fixture
def synced(sim, db_url, monkeypatch, api_key) -> Pipeline:
    """A warehouse synced in full, pages of 50, the next run a scheduled one that counts."""
    use_ploomes(monkeypatch, sim.url, api_key, requests_per_minute=6000, page_size=PAGE)
    pipeline = Pipeline(db_url, config=SyncConfig(full_listing_every_hours=24 * 365))
    pipeline.run()
    return pipeline


def _run(pipeline: Pipeline, sim, db_url, gone: list[int]) -> tuple[dict, list]:
    for deal_id in gone:
        sim.admin.delete_deal(deal_id)
    sim.admin.clear_requests()
    run = pipeline.run(run_type="scheduled")
    info = run.results["list_deletions"]["deals"]
    assert info["method"] == "count"
    # the warehouse was right: what the listing read (custom values too) differs in nothing, so no
    # read by Id is spent repairing it
    assert run.results["reconcile_deletions"]["deals"]["differing"] == 0
    with psycopg.connect(db_url, autocommit=True) as conn:
        assert conn.execute("SELECT count(*) FROM public.sales WHERE id = ANY(%s)", [gone]).fetchone()[0] == 0
        assert_warehouse_equals_simulator(conn, sim.admin)
        ranges = warehouse.listing_ranges(conn, run.run_id, "deals")
    return info, ranges


def test_a_deletion_in_the_page_the_first_count_lists_costs_that_one_request(synced, sim, db_url):
    gone = sim.admin.truth_deals()[460]["Id"]  # the count of all 900 lists the page at position 450

    info, ranges = _run(synced, sim, db_url, [gone])

    requests = _listing_requests(sim)
    assert len(requests) == 1 and info["requests"] == 1
    query = requests[0]["query"]
    assert query["$count"] == "true" and query["$top"] == str(PAGE) and query["$orderby"] == "Id"
    assert query["$skip"] == "450"
    assert [r.listed for r in ranges] == [False, True, False]  # counted equal, the page listed, counted equal


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_scattered_deletions_are_found_and_every_probed_page_is_listed(synced, sim, db_url, seed):
    ids = [deal["Id"] for deal in sim.admin.truth_deals()]
    gone = random.Random(seed).sample(ids, 4)

    info, ranges = _run(synced, sim, db_url, gone)

    requests = _listing_requests(sim)
    assert all(r["query"]["$count"] == "true" and r["query"]["$top"] == str(PAGE) for r in requests)
    assert any("$skip" in r["query"] for r in requests)
    # two cuts a request: fewer than a binary search of 18 pages per deletion (4 x 5)
    assert info["requests"] == len(requests) <= 14
    _assert_partition(ranges, ids, gone, info)


@pytest.mark.parametrize("refused", [False, True])
def test_an_api_that_ignores_or_refuses_offsets_costs_requests_never_a_deletion(synced, sim, db_url, refused):
    ids = [deal["Id"] for deal in sim.admin.truth_deals()]
    gone = random.Random(7).sample(ids, 4)
    sim.admin.configure(**{"refused_options" if refused else "ignored_options": "$skip"})

    info, ranges = _run(synced, sim, db_url, gone)  # every deletion found, the warehouse equal to Ploomes

    statuses = [r["status"] for r in _listing_requests(sim)]
    assert (400 in statuses) is refused
    _assert_partition(ranges, ids, gone, info)


def _assert_partition(ranges: list, ids: list[int], gone: list[int], info: dict) -> None:
    """The ranges cover (None, the highest id] once each, and the listed ones hold what was staged."""
    bounds = [(r.id_after, r.id_upto) for r in ranges]
    assert bounds[0][0] is None and bounds[-1][1] == max(ids)
    assert all(a[1] == b[0] for a, b in zip(bounds, bounds[1:], strict=False))
    remaining = [deal_id for deal_id in ids if deal_id not in gone]
    in_listed = [i for i in remaining for r in ranges
                 if r.listed and (r.id_after is None or i > r.id_after) and i <= r.id_upto]
    assert info["listed"] == len(in_listed) and info["ranges_listed"] == sum(r.listed for r in ranges)


def test_a_stream_of_a_page_or_less_is_listed_whole_by_its_one_probe(sim, db_url, monkeypatch, api_key):
    use_ploomes(monkeypatch, sim.url, api_key, requests_per_minute=6000)  # pages of 300: 80 contacts
    pipeline = Pipeline(db_url, config=SyncConfig(full_listing_every_hours=24 * 365))
    pipeline.run()
    contacts = sim.admin.truth_contacts()
    gone = contacts[40]["Id"]
    sim.admin.delete_contact(gone)
    sim.admin.clear_requests()

    run = pipeline.run(run_type="scheduled")

    info = run.results["list_deletions"]["contacts"]
    assert info["method"] == "count" and info["requests"] == 1 and info["listed"] == len(contacts) - 1
    assert len(_listing_requests(sim, "contacts")) == 1
    with psycopg.connect(db_url, autocommit=True) as conn:
        ranges = warehouse.listing_ranges(conn, run.run_id, "contacts")
        assert conn.execute("SELECT count(*) FROM public.customers WHERE id = %s", [gone]).fetchone()[0] == 0
    assert [(r.id_after, r.listed) for r in ranges] == [(None, True)]

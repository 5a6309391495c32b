"""Hostile data stored in the simulator as raw JSON: any string content in text fields, numbers at
the edges, missing and extra fields, wrong types.

Every record either loads exactly (each contract column equal to what the independent truth in
``tests/support/truth.py`` computes) or lands in ``ploomes_sync.rejects`` with a reason naming the
field, and the run history says how many. A rejected record never removes a row: its last good
version stays, the check leaves it out and counts it, and a reject that names no record (no usable
Id) keeps the reconcile from deleting anything. Once the records are fixed in Ploomes, the next
run succeeds and the warehouse equals the truth. With the default thresholds, that many rejects
fail the extract, saying how many, before anything is loaded.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import psycopg
import pytest

from ploomes_devkit.pipeline import Pipeline
from ploomes_simulator import RunningSimulator
from ploomes_sync import tasks
from ploomes_sync.tasks import TooManyRejects
from tests.reliability.harness import CONFIG, assert_unchanged, run_fails, run_ok, run_status, snapshot
from tests.support.truth import SALES_COLUMNS, expected_sales, warehouse_rows

LONG = "Ploomes " * 25_000 + "fim"  # 200 kB of title
EVERY_PLANE = "é中\U0001F600\U00020000\U00030000\U000E0001\U000F0000\U0010FFFD"

# Deals that must load exactly: (what is hostile about them, fields over a valid deal).
LOADS: list[tuple[str, dict[str, Any]]] = [
    ("quotes and backslashes", {"Title": "O'Brien \"Ltda\" \\ C:\\temp\\ \\\\server"}),
    ("tabs, newlines, carriage returns", {"Title": "a\tb\nc\r\nd\re"}),
    ("control characters", {"Title": "\x01\x02\x07\x08\x0b\x0c\x1b\x1f\x7f\x85\x9f"}),
    ("COPY markers", {"Title": "\\N"}),
    ("COPY end of data", {"Title": "\\."}),
    ("SQL-looking", {"Title": "'); DROP TABLE public.sales; -- %(run_id)s %s {0}"}),
    ("very long", {"Title": LONG}),
    ("every Unicode plane", {"Title": EVERY_PLANE}),
    ("direction marks, zero width, BOM", {"Title": "\u202eabc\u200b\ufeff\u2028\u2029"}),
    ("empty title", {"Title": ""}),
    ("money at the top edge", {"Amount": 9999999999999.99}),
    ("negative money with many decimals", {"Amount": -12345.678901234}),
    ("tiny money", {"Amount": 1e-10}),
    ("half a cent", {"Amount": 0.005}),
    ("integer money", {"Amount": 42}),
    ("null money", {"Amount": None}),
    ("negative contact id", {"ContactId": -1}),
    ("ids at the bigint edge", {"PipelineId": 2**63 - 1, "OwnerId": -(2**63)}),
    ("seven fraction digits", {"FinishDate": "2024-05-01T10:00:00.1234567-03:00", "StatusId": 2}),
    ("missing optional fields", {"Title": ..., "ContactId": ..., "FinishDate": ..., "Amount": ...}),
    ("extra fields", {"Unexpected": {"nested": [1, "two", None]}, "Title ": "space in a name"}),
]

# Deals that must be set aside: (fields over a valid deal, stream that rejects them, reason words).
REJECTS: list[tuple[dict[str, Any], str, str]] = [
    ({"Title": "nul \x00 inside"}, "deals", "Title: contains NUL"),
    ({"Title": 12345}, "deals", "Title: expected text or null, got int"),
    ({"Title": {"pt": "objeto"}}, "deals", "Title: expected text or null, got dict"),
    ({"ContactId": "30000001"}, "deals", "ContactId: expected an integer or null, got str"),
    ({"ContactId": 2**64}, "deals", "ContactId: out of bigint range"),
    ({"ContactId": 1.5}, "deals", "ContactId: expected an integer or null, got float"),
    ({"FinishDate": "yesterday"}, "deals", "FinishDate: not an ISO 8601 date"),
    ({"Amount": "1000.00"}, "deals", "Amount: expected a number or null, got str"),
    ({"Amount": 1e13}, "deals", "does not fit numeric(15,2)"),
    ({"Amount": 1e308}, "deals", "does not fit numeric(15,2)"),
    ({"Amount": True}, "deals", "Amount: expected a number or null, got bool"),
    ({"StatusId": 7}, "deals", "StatusId: expected 1 (open), 2 (won) or 3 (lost), got int 7"),
    ({"StatusId": "2"}, "deals", "StatusId: expected 1 (open), 2 (won) or 3 (lost), got str"),
    ({"CreateDate": "31/12/2024"}, "deals", "CreateDate: not an ISO 8601 date"),
    ({"CreateDate": ...}, "deals", "CreateDate: missing"),
    ({"CreateDate": "2024-02-30T10:00:00-03:00"}, "deals", "CreateDate: not a valid date"),
    # outside an incremental extract's LastUpdateDate window: there only the light listing sees it
    # (a full run's extract reads every deal and sets it aside itself; see _plant)
    ({"LastUpdateDate": ...}, "deals_listing", "LastUpdateDate: missing"),
]
LENIENT = dataclasses.replace(CONFIG, max_reject_ratio=0.5)


def _deal(template: dict[str, Any], deal_id: int, fields: dict[str, Any]) -> dict[str, Any]:
    record = {**template, "Id": deal_id}
    for name, value in fields.items():
        if value is ...:
            record.pop(name, None)
        else:
            record[name] = value
    return record


def _plant(sim: RunningSimulator, template_id: int | None = None, *, full_run: bool = True,
           ) -> tuple[list[int], dict[int, tuple[str, str]]]:
    """Store the hostile deals, copies of deal ``template_id`` (default: one in the middle) but for
    the hostile fields; their ids: those that must load, and those to reject (with why, and by
    which stream: a full run's deals extract reads every deal, an incremental one only its window)."""
    deals = sim.admin.truth_deals()
    template = dict(deals[len(deals) // 2] if template_id is None else sim.admin.get_deal(template_id))
    next_id = deals[-1]["Id"] + 1000
    loads = []
    for offset, (_, fields) in enumerate(LOADS):
        sim.admin.create_deal_raw(_deal(template, next_id + offset, fields))
        loads.append(next_id + offset)
    rejects: dict[int, tuple[str, str]] = {}
    for offset, (fields, stream, reason) in enumerate(REJECTS, start=len(LOADS)):
        sim.admin.create_deal_raw(_deal(template, next_id + offset, fields))
        rejects[next_id + offset] = ("deals" if full_run else stream, reason)
    sim.admin.create_deal_raw(_deal(template, -5, {}))  # ids Ploomes would never give
    rejects[-5] = ("deals", "Id: must be positive, got -5")
    return loads, rejects


def _rejects(db_url: str, run_id: str) -> dict[str, list[tuple[str, str]]]:
    with psycopg.connect(db_url, autocommit=True) as conn:
        rows = conn.execute("SELECT record_id, stream, reason FROM ploomes_sync.rejects WHERE run_id = %s",
                            [run_id]).fetchall()
    found: dict[str, list[tuple[str, str]]] = {}
    for record_id, stream, reason in rows:
        found.setdefault(record_id, []).append((stream, reason))
    return found


def test_each_hostile_record_loads_exactly_or_is_set_aside_with_its_reason(
    sim: RunningSimulator, db_url: str, connect: None,
) -> None:
    loads, rejects = _plant(sim)
    pipeline = Pipeline(db_url, config=LENIENT)

    run = pipeline.run(run_id="hostile")
    history = run_status(db_url, "hostile")
    assert history["status"] == "success"
    # the check leaves the records set aside out, and counts them
    assert history["checks"]["deals"]["left_out"]["rejected"] == len(rejects)
    # a reject without a usable Id could be any row: the reconcile deletes nothing, and says why
    assert "without a usable Id" in run.results["reconcile_deletions"]["deals"]["refused"]

    truth = {deal["Id"]: deal for deal in sim.admin.truth_deals(custom=True)}
    with psycopg.connect(db_url) as conn:
        expected = expected_sales(conn, [truth[deal_id] for deal_id in loads])
        actual = warehouse_rows(conn, "sales", SALES_COLUMNS, "id")
    for (what, _), deal_id in zip(LOADS, loads, strict=True):
        assert actual.get(deal_id) == expected[deal_id], f"{what}: loaded {actual.get(deal_id)}"
    assert not set(rejects) & set(actual), "a record to reject reached public.sales"

    found = _rejects(db_url, "hostile")
    for deal_id, (stream, reason) in rejects.items():
        reasons = found.get(str(deal_id), [])
        assert any(s == stream and reason in r for s, r in reasons), f"{deal_id}: {reason!r} not in {reasons}"
    streams = history["streams"]
    assert streams["deals"]["rejected"] == sum(1 for stream, _ in rejects.values() if stream == "deals")

    # fixed in Ploomes (the bad ids removed): the next run succeeds and equals the truth
    for deal_id in rejects:
        if deal_id > 0:
            sim.admin.update_deal_raw(deal_id, {**{k: v for k, v in truth[deal_id].items() if k != "Id"},
                                                **_valid_fields(truth)})
        else:
            sim.admin.delete_deal(deal_id)
    for deal_id in rejects:
        if deal_id > 0:
            sim.admin.update_deal(deal_id, Title=f"fixed {deal_id}")  # LastUpdateDate becomes now
    run_ok(pipeline, db_url, sim.admin, "fixed")


def _valid_fields(truth: dict[int, dict[str, Any]]) -> dict[str, Any]:
    sample = next(deal for deal in truth.values() if deal["Id"] > 0 and isinstance(deal.get("Title"), str))
    return {name: sample.get(name) for name in ("Title", "ContactId", "Amount", "StatusId", "CreateDate",
                                                "LastUpdateDate", "FinishDate", "PipelineId", "StageId",
                                                "OwnerId")}


@pytest.mark.parametrize("stage", ["first run", "incremental run"])
def test_too_many_rejects_fail_the_extract_saying_how_many_and_load_nothing(
    stage: str, sim: RunningSimulator, db_url: str, pipeline: Pipeline,
) -> None:
    template_id = None
    if stage == "incremental run":
        run_ok(pipeline, db_url, sim.admin, "baseline")
        template_id = sim.admin.mutate(updates=30, seed=3)["updated"][0]  # updated now: in the window
    else:
        with psycopg.connect(db_url) as conn:
            tasks.migrate_schema(conn)
    before = snapshot(db_url)
    _, rejects = _plant(sim, template_id, full_run=stage != "incremental run")

    failure = run_fails(pipeline, "too-many", TooManyRejects)

    extracted = sum(1 for stream, _ in rejects.values() if stream == "deals")
    assert f"{extracted} of " in str(failure.value) and "records were rejected" in str(failure.value)
    assert "the watermark did not move" in str(failure.value)
    assert run_status(db_url, "too-many")["streams"]["deals"]["rejected"] == extracted
    # nothing of the deals (the other streams load, as in Airflow: their extracts did not fail)
    assert_unchanged(db_url, before, tables=("sales",), streams=("deals",))

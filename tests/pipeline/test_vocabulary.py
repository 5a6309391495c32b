"""The account as it really is: its custom fields (typed, and every new one without a release), its
sellers, pipelines, stages and loss reasons, asked by name; and the modules it has.

The DAG's tasks (``ploomes_devkit.pipeline``) against the simulator, whose ``/Fields``, option lists,
``/Users``, ``/Deals@Pipelines``, ``/Deals@Stages`` and ``/Deals@LossReasons`` speak as the API
does (``ploomes_simulator.vocabulary``), with a knob that refuses chosen endpoints (403).
"""

from __future__ import annotations

import dataclasses
from collections import Counter, defaultdict
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
import pytest

from ploomes_devkit.pipeline import Pipeline
from ploomes_simulator import RunningSimulator
from ploomes_sync.config import SyncConfig
from ploomes_sync.errors import StreamForbidden
from ploomes_sync.streams import registry
from ploomes_sync.warehouse.sqlfiles import load
from tests.support.truth import assert_warehouse_equals_simulator, custom_fields_of

SAO_PAULO = ZoneInfo("America/Sao_Paulo")
FULL_LISTING = SyncConfig(full_listing_every_hours=0)
TABLES = {"deals": "sales", "contacts": "customers", "products": "products", "orders": "orders", "quotes": "quotes"}


def custom(db_url: str, table: str) -> dict[int, dict[str, Any]]:
    with psycopg.connect(db_url) as conn:
        return dict(conn.execute(f"SELECT id, custom_fields FROM public.{table}").fetchall())  # table: ours


def query(db_url: str, statement: str, params: Any = None) -> list[tuple]:
    with psycopg.connect(db_url) as conn:
        return conn.execute(statement, params).fetchall()


def field_named(sim: RunningSimulator, name: str) -> dict[str, Any]:
    return next(f for f in sim.admin.truth("fields") if f["Name"] == name)


def option_named(sim: RunningSimulator, table_id: int, name: str) -> int:
    table = next(t for t in sim.admin.truth("options_tables") if t["Id"] == table_id)
    return next(o["Id"] for o in table["Options"] if o["Name"] == name)


class TestEveryCustomFieldTyped:
    def test_the_five_entities_bring_their_custom_values_as_the_contract_says(self, sim, db_url) -> None:
        assert Pipeline(db_url).run().status == "success"
        with psycopg.connect(db_url) as conn:
            assert_warehouse_equals_simulator(conn, sim.admin)  # deals and contacts, every column
        for entity, table in TABLES.items():
            expected = {r["Id"]: custom_fields_of(r["OtherProperties"]) for r in sim.admin.truth(entity, custom=True)}
            assert custom(db_url, table) == expected, entity
        kinds = {type(value).__name__ for values in custom(db_url, "sales").values() for value in values.values()}
        assert kinds == {"str", "int", "float", "bool", "list"}, "text and dates, ids, numbers, checkboxes, lists"

    def test_a_field_created_in_ploomes_reaches_the_warehouse_on_the_next_run(self, sim, db_url) -> None:
        pipeline = Pipeline(db_url)
        pipeline.run()
        several = sim.admin.create("fields", EntityId=2, Name="Canais", TypeId=7, OptionsTableId=41002,
                                   Multiple=True)
        when = sim.admin.create("fields", EntityId=1, Name="Cliente desde", TypeId=8)
        deal, contact = sim.admin.truth_deals()[5], sim.admin.truth_contacts()[5]
        sim.admin.update_deal(deal["Id"], OtherProperties={several["Key"]: [4100203]})
        sim.admin.update_contact(contact["Id"], OtherProperties={when["Key"]: "2019-05-01T09:30:00Z"})

        assert pipeline.run(run_type="scheduled").status == "success"

        assert custom(db_url, "sales")[deal["Id"]][several["Key"]] == [4100203]  # one option, still a list
        assert custom(db_url, "customers")[contact["Id"]][when["Key"]] == "2019-05-01T06:30:00-03:00"
        names = dict(query(db_url, "SELECT key, name FROM public.custom_fields"))
        assert names[several["Key"]] == "Canais" and names[when["Key"]] == "Cliente desde"

    def test_a_value_cleared_in_ploomes_leaves_the_jsonb(self, sim, db_url) -> None:
        pipeline = Pipeline(db_url)
        pipeline.run()
        deal = next(d for d in sim.admin.truth_deals(custom=True) if d["OtherProperties"])
        key = next(iter(deal["OtherProperties"]))
        sim.admin.update_deal(deal["Id"], OtherProperties={key: None})

        pipeline.run(run_type="scheduled")

        assert key not in custom(db_url, "sales")[deal["Id"]]
        assert custom(db_url, "sales")[deal["Id"]] == custom_fields_of(
            next(d for d in sim.admin.truth_deals(custom=True) if d["Id"] == deal["Id"])["OtherProperties"])

    def test_renaming_a_field_or_an_option_changes_only_the_vocabulary(self, sim, db_url) -> None:
        pipeline = Pipeline(db_url)
        pipeline.run()
        segment = field_named(sim, "Segmento")
        hospital = option_named(sim, segment["OptionsTableId"], "Hospital")
        before = custom(db_url, "sales")
        answer = query(db_url, load("examples/won_revenue_by_option.sql"),
                       {"field": "Segmento", "option": "Hospital"})
        sim.admin.update("fields", segment["Id"], Name="Segmento de mercado")
        table = next(t for t in sim.admin.truth("options_tables") if t["Id"] == segment["OptionsTableId"])
        sim.admin.update("options_tables", table["Id"], Options=[
            {**o, "Name": "Hospitalar"} if o["Id"] == hospital else o for o in table["Options"]])

        pipeline.run(run_type="scheduled")

        assert custom(db_url, "sales") == before, "the records' values are ids and keys: a rename leaves them"
        assert query(db_url, "SELECT name FROM public.custom_fields WHERE key = %s", [segment["Key"]]) == [
            ("Segmento de mercado",)]
        assert query(db_url, "SELECT name FROM public.custom_field_options WHERE id = %s", [hospital]) == [
            ("Hospitalar",)]
        renamed = query(db_url, load("examples/won_revenue_by_option.sql"),
                        {"field": "Segmento de mercado", "option": "Hospitalar"})
        assert renamed == answer and answer, "the same question by the new names gets the same answer"


class TestTheCheckComparesCustomValues:
    def test_a_custom_value_the_warehouse_holds_wrong_is_found_and_put_right(self, sim, db_url) -> None:
        pipeline = Pipeline(db_url, config=FULL_LISTING)
        pipeline.run()
        oldest = min(sim.admin.truth_deals(custom=True), key=lambda d: d["LastUpdateDate"])  # no window reads it
        with psycopg.connect(db_url) as conn:
            conn.execute("UPDATE public.sales SET custom_fields = custom_fields || '{\"deal_textao\": \"errado\"}' "
                         "WHERE id = %s", [oldest["Id"]])
        # the read by Id that would repair it answers nothing: the check sees it and names it
        sim.admin.set_faults(schedule=[{"kind": "empty", "count": 100, "path": "/Deals", "filter": "Id eq"}])
        with pytest.raises(Exception, match=str(oldest["Id"])):
            pipeline.run(run_type="scheduled")
        sim.admin.clear_faults()

        assert pipeline.run(run_type="scheduled").status == "success"  # read again by Id, and repaired
        with psycopg.connect(db_url) as conn:
            assert_warehouse_equals_simulator(conn, sim.admin)


class TestTheVocabularyAsStreams:
    def test_sellers_pipelines_stages_and_loss_reasons_are_what_ploomes_lists(self, sim, db_url) -> None:
        assert Pipeline(db_url).run().status == "success"
        for entity, table, columns in (
            ("users", "crm_users", ("Id", "Name", "Email", "Suspended", "Integration")),
            ("pipelines", "deal_pipelines", ("Id", "Name", "Archived", "Ordination")),
            ("stages", "deal_stages", ("Id", "PipelineId", "Name", "Ordination")),
            ("loss_reasons", "loss_reasons", ("Id", "Name", "PipelineId")),
        ):
            expected = sorted(tuple(record.get(c) for c in columns) for record in sim.admin.truth(entity))
            names = ", ".join(c.lower().replace("pipelineid", "pipeline_id") for c in columns)
            assert sorted(query(db_url, f"SELECT {names} FROM public.{table}")) == expected, table  # ours
        dynamic = {f["Key"] for f in sim.admin.truth("fields") if f["Dynamic"]}
        assert {key for (key,) in query(db_url, "SELECT key FROM public.custom_fields")} == dynamic
        options = {o["Id"]: o["Name"] for t in sim.admin.truth("options_tables") for o in t["Options"]}
        assert dict(query(db_url, "SELECT id, name FROM public.custom_field_options")) == options
        deals = {d["Id"]: d.get("LossReasonId") for d in sim.admin.truth_deals()}
        assert dict(query(db_url, "SELECT id, loss_reason_id FROM public.sales")) == deals

    def test_each_costs_one_request_a_run(self, sim, db_url) -> None:
        pipeline = Pipeline(db_url)
        pipeline.run()
        sim.admin.clear_requests()
        assert pipeline.run(run_type="scheduled").status == "success"
        asked = Counter(entry["path"].lower() for entry in sim.admin.requests())
        whole = [stream for stream in registry() if stream.whole]
        assert {stream.endpoint: asked[f"/{stream.endpoint.lower()}"] for stream in whole} == {
            stream.endpoint: 1 for stream in whole}, asked

    def test_deletions_are_confirmed_and_guarded_like_the_rest(self, sim, db_url) -> None:
        pipeline = Pipeline(db_url)
        pipeline.run()
        reason = sim.admin.truth("loss_reasons")[-1]["Id"]
        field = next(f for f in sim.admin.truth("fields") if f["Dynamic"] and f["EntityId"] == 1)
        sim.admin.delete("loss_reasons", reason)
        sim.admin.delete("fields", field["Id"])  # Ploomes takes its values off every record
        # ... and an answer that lists no user at all is one answer: nobody leaves on it
        sim.admin.set_faults(schedule=[{"kind": "empty", "count": 1, "path": "/Users"}])

        assert pipeline.run(run_type="scheduled").status == "success"

        assert query(db_url, "SELECT id FROM ploomes_sync.deleted_loss_reasons") == [(reason,)]
        assert query(db_url, "SELECT key FROM ploomes_sync.deleted_custom_fields") == [(field["Key"],)]
        users = {u["Id"] for u in sim.admin.truth("users")}
        assert {i for (i,) in query(db_url, "SELECT id FROM public.crm_users")} == users
        assert all(field["Key"] not in values for values in custom(db_url, "customers").values())


class TestADashboardAsksByName:
    def test_won_revenue_per_year_of_the_deals_whose_segmento_is_hospital(self, sim, db_url) -> None:
        assert Pipeline(db_url).run().status == "success"
        segment = field_named(sim, "Segmento")
        hospital = option_named(sim, segment["OptionsTableId"], "Hospital")
        expected: dict[int, Decimal] = defaultdict(Decimal)
        for deal in sim.admin.truth_deals(custom=True):
            if deal["StatusId"] == 2 and deal["OtherProperties"].get(segment["Key"]) == hospital:
                when = datetime.fromisoformat(deal.get("FinishDate") or deal["CreateDate"]).astimezone(SAO_PAULO)
                expected[when.year] += Decimal(repr(deal.get("Amount") or 0)).quantize(Decimal("0.01"))
        answer = query(db_url, load("examples/won_revenue_by_option.sql"), {"field": "Segmento", "option": "Hospital"})
        assert dict(answer) == {year: total for year, total in expected.items()} and len(answer) > 1

    def test_deals_per_seller_and_stage_by_name(self, sim, db_url) -> None:
        assert Pipeline(db_url).run().status == "success"
        users = {u["Id"]: u["Name"] for u in sim.admin.truth("users")}
        pipelines = {p["Id"]: p["Name"] for p in sim.admin.truth("pipelines")}
        stages = {s["Id"]: s["Name"] for s in sim.admin.truth("stages")}
        expected: dict[tuple, int] = defaultdict(int)
        for deal in sim.admin.truth_deals():
            expected[users[deal["OwnerId"]], pipelines[deal["PipelineId"]], stages[deal["StageId"]]] += 1
        answer = query(db_url, load("examples/deals_by_seller_and_stage.sql"))
        assert {(seller, pipeline, stage): deals for seller, pipeline, stage, deals in answer} == expected


class TestTheAccountsModules:
    def test_leaving_orders_and_quotes_out_leaves_their_tables_untouched_and_unchecked(self, sim, db_url) -> None:
        Pipeline(db_url).run()
        tables = ("orders", "order_items", "quotes", "quote_items")
        before = {table: query(db_url, f"SELECT * FROM public.{table} ORDER BY id") for table in tables}  # ours
        sim.admin.mutate(orders=5, commerce_deletes=2, seed=3)
        sim.admin.clear_requests()
        without = SyncConfig(streams=tuple(n for n in registry().names if n not in ("orders", "quotes")))

        run = Pipeline(db_url, config=dataclasses.replace(without, full_listing_every_hours=0)).run()

        assert run.status == "success"
        assert {table: query(db_url, f"SELECT * FROM public.{table} ORDER BY id") for table in tables} == before
        assert not {"orders", "quotes"} & set(run.results["validate_by_year"]), "not checked"
        asked = {entry["path"].lower() for entry in sim.admin.requests()}
        assert "/orders" not in asked and "/quotes" not in asked

    def test_an_endpoint_refused_fails_its_stream_alone_naming_it(self, sim, db_url) -> None:
        Pipeline(db_url).run()
        sim.admin.mutate(updates=20, seed=8)
        sim.admin.configure(forbidden_paths="/Orders,/Quotes")
        sim.admin.clear_requests()
        pipeline = Pipeline(db_url)

        with pytest.raises(StreamForbidden) as raised:
            pipeline.run(run_type="scheduled")

        message = str(raised.value)
        assert raised.value.stream in ("orders", "quotes") and f"/{raised.value.stream.title()}" in message
        assert "permission" in message and '"streams"' in message and "Not retried" in message
        run = pipeline.last_run
        assert {"extract_orders", "extract_quotes"} <= set(run.failed)
        assert {"load_sales", "load_customers", "load_products"} <= set(run.results), "the other streams load"
        with psycopg.connect(db_url) as conn:
            assert_warehouse_equals_simulator(conn, sim.admin)
            status = conn.execute("SELECT status FROM ploomes_sync.run_history WHERE run_id = %s",
                                  [run.run_id]).fetchone()
        assert status == ("failed",), "the run ends failed until the user acts"
        refused = [entry["path"] for entry in sim.admin.requests() if entry["status"] == 403]
        assert sorted(set(refused)) == ["/Orders", "/Quotes"] and len(refused) <= 4, "never retried"

        left_out = SyncConfig(streams=tuple(n for n in registry().names if n not in ("orders", "quotes")))
        assert Pipeline(db_url, config=left_out).run(run_type="scheduled").status == "success"

"""The account's vocabulary as the simulator serves it: /Fields, option lists, users, pipelines,
stages, loss reasons, the custom values records carry, and an integration user without a module."""

from __future__ import annotations

from ploomes_simulator import RunningSimulator
from ploomes_simulator.vocabulary import ENTITY_IDS, TYPES
from tests.simulator.sim_support import Api


class TestFields:
    def test_fields_list_built_in_and_custom_ones_of_every_native_type(self, api: Api) -> None:
        fields = api.values("/Fields", **{"$expand": "Type", "$filter": "EntityId eq 2"})
        custom = [f for f in fields if f["Dynamic"]]
        built_in = [f for f in fields if not f["Dynamic"]]
        assert built_in and all(f["PropertyName"] for f in built_in)
        assert {f["Type"]["NativeType"] for f in custom} == {"String", "BigString", "Integer", "Decimal", "DateTime",
                                                              "Bool"}
        assert any(f["Key"] == "deal_textao" for f in custom)  # an older key, without a GUID
        assert all(f["Key"].startswith("deal_") for f in custom)
        assert any(f["Multiple"] and f["OptionsTableId"] for f in custom)
        assert "Type" not in api.values("/Fields", **{"$top": 1})[0]  # shown when expanded

    def test_every_synced_entity_has_custom_fields_and_filters_work(self, api: Api) -> None:
        for entity_id in ENTITY_IDS.values():
            assert api.values("/Fields", **{"$filter": f"EntityId eq {entity_id} and Dynamic eq true"})

    def test_options_tables_come_with_their_options_in_one_request(self, api: Api) -> None:
        tables = api.values("/Fields@OptionsTables", **{"$expand": "Options"})
        assert len(tables) >= 3 and all(t["Options"] and all(o["TableId"] == t["Id"] for o in t["Options"])
                                        for t in tables)
        flat = api.values("/Fields@OptionsTables@Options", **{"$filter": f"TableId eq {tables[0]['Id']}"})
        assert [o["Id"] for o in flat] == [o["Id"] for o in tables[0]["Options"]]


class TestCustomValues:
    def test_values_sit_where_their_native_type_says_and_options_carry_their_names(self, api: Api,
                                                                                  sim: RunningSimulator) -> None:
        fields = {f["Key"]: f for f in sim.admin.truth("fields")}
        options = {o["Id"]: o["Name"] for t in sim.admin.truth("options_tables") for o in t["Options"]}
        seen_types = set()
        for deal in api.values("/Deals", **{"$expand": "OtherProperties", "$top": 100}):
            for item in deal["OtherProperties"]:
                spec = fields[item["FieldKey"]]
                seen_types.add(spec["TypeId"])
                if spec["TypeId"] == 7:
                    assert item["ObjectValueId"] == item["IntegerValue"] and options[item["ObjectValueId"]] == \
                        item["ObjectValueName"]
                elif spec["TypeId"] == 17:
                    assert item["UserValueId"] and item["IntegerValue"] is None
                else:
                    assert item[f"{TYPES[spec['TypeId']][1]}Value"] is not None
        assert {7, 17, 1, 2, 4, 5, 8, 10, 13} <= seen_types

    def test_a_field_taking_several_options_gives_an_item_per_option(self, api: Api, sim: RunningSimulator) -> None:
        multiple = next(f for f in sim.admin.truth("fields") if f["Multiple"])
        deal = next(d for d in sim.admin.truth("deals", custom=True)
                    if len(d["OtherProperties"].get(multiple["Key"]) or []) > 1)
        items = api.values("/Deals", **{"$expand": "OtherProperties", "$filter": f"Id eq {deal['Id']}"})[0]
        chosen = [i["ObjectValueId"] for i in items["OtherProperties"] if i["FieldKey"] == multiple["Key"]]
        assert chosen == deal["OtherProperties"][multiple["Key"]]

    def test_fields_created_renamed_and_removed_over_time(self, api: Api, sim: RunningSimulator) -> None:
        created = sim.admin.create("fields", EntityId=2, Name="Canal", TypeId=1)
        deal = sim.admin.truth_deals()[0]
        sim.admin.update_deal(deal["Id"], OtherProperties={created["Key"]: "WhatsApp"})
        sim.admin.update("fields", created["Id"], Name="Canal de venda")  # renamed: the key stays
        read = api.values("/Deals", **{"$expand": "OtherProperties", "$filter": f"Id eq {deal['Id']}"})[0]
        assert {"FieldKey": created["Key"], "StringValue": "WhatsApp"}.items() <= next(
            i for i in read["OtherProperties"] if i["FieldKey"] == created["Key"]).items()
        sim.admin.delete("fields", created["Id"])
        read = api.values("/Deals", **{"$expand": "OtherProperties", "$filter": f"Id eq {deal['Id']}"})[0]
        assert all(i["FieldKey"] != created["Key"] for i in read["OtherProperties"])

    def test_a_value_cleared_leaves_the_record(self, api: Api, sim: RunningSimulator) -> None:
        deal = next(d for d in sim.admin.truth("deals", custom=True) if d["OtherProperties"])
        key = next(iter(deal["OtherProperties"]))
        sim.admin.update_deal(deal["Id"], OtherProperties={key: None})
        read = api.values("/Deals", **{"$expand": "OtherProperties", "$filter": f"Id eq {deal['Id']}"})[0]
        assert all(i["FieldKey"] != key for i in read["OtherProperties"])


class TestUsersPipelinesStagesLossReasons:
    def test_the_deals_point_at_users_pipelines_stages_and_loss_reasons_that_exist(self, api: Api,
                                                                                   sim: RunningSimulator) -> None:
        users = {u["Id"]: u for u in api.values("/Users")}
        pipelines = {p["Id"]: p for p in api.values("/Deals@Pipelines")}
        stages = {s["Id"]: s for s in api.values("/Deals@Stages")}
        reasons = {r["Id"] for r in api.values("/Deals@LossReasons")}
        assert any(p["Archived"] for p in pipelines.values()) and any(u["Integration"] for u in users.values())
        for deal in sim.admin.truth_deals():
            assert deal["OwnerId"] in users and deal["PipelineId"] in pipelines
            assert stages[deal["StageId"]]["PipelineId"] == deal["PipelineId"]
            assert deal["LossReasonId"] is None or deal["LossReasonId"] in reasons


def test_forbidden_paths_answer_403_while_the_key_works_elsewhere(api: Api, sim: RunningSimulator) -> None:
    sim.admin.configure(forbidden_paths="/Orders,/Quotes")
    assert api.get("/Orders").status_code == 403 and api.get("/quotes").status_code == 403
    assert api.get("/Deals", {"$top": 1}).status_code == 200
    assert api.get("/Orders", key="wrong-key-000000").status_code == 403

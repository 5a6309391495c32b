"""$select, $expand and $orderby."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from ploomes_simulator import RunningSimulator
from tests.simulator.sim_support import Api

CLIENT_TAG = 40006184


def null_first_key(value: Any) -> tuple[int, Any]:
    return (0, 0) if value is None else (1, value)


class TestSelect:
    def test_select_returns_only_the_named_properties(self, api: Api) -> None:
        deals = api.values("/Deals", **{"$select": "Id,Amount,LastUpdateDate", "$top": 50})
        assert len(deals) == 50
        assert all(set(d) == {"Id", "Amount", "LastUpdateDate"} for d in deals)

    def test_select_keeps_the_values(self, api: Api, truth_deals: list[dict]) -> None:
        deals = api.values("/Deals", **{"$select": "Id,Title", "$orderby": "Id", "$top": 20})
        assert deals == [{"Id": d["Id"], "Title": d["Title"]} for d in truth_deals[:20]]


class TestExpand:
    def test_tags_with_tag_give_names(self, api: Api, sim: RunningSimulator) -> None:
        contacts = api.values("/Contacts", **{"$expand": "Tags($expand=Tag)", "$orderby": "Id"})
        truth = sim.admin.truth_contacts()
        assert contacts == truth
        tagged = [c for c in contacts if any(t["TagId"] == CLIENT_TAG for t in c["Tags"])]
        assert tagged and all(
            t["Tag"] == {"Id": CLIENT_TAG, "Name": "Cliente"}
            for c in tagged
            for t in c["Tags"]
            if t["TagId"] == CLIENT_TAG
        )

    def test_tags_alone_give_tag_ids(self, api: Api) -> None:
        contacts = api.values("/Contacts", **{"$expand": "Tags", "$select": "Id,Name"})
        assert all(set(c) == {"Id", "Name", "Tags"} for c in contacts)
        assert any(c["Tags"] for c in contacts)
        assert all(set(t) == {"TagId"} for c in contacts for t in c["Tags"])

    def test_nested_select_inside_the_tag(self, api: Api) -> None:
        contacts = api.values("/Contacts", **{"$expand": "Tags($select=TagId;$expand=Tag($select=Name))"})
        entries = [t for c in contacts for t in c["Tags"]]
        assert entries and all(set(t) == {"TagId", "Tag"} and set(t["Tag"]) == {"Name"} for t in entries)

    def test_other_properties_expand_to_the_rest_api_s_items(self, api: Api, sim: RunningSimulator) -> None:
        deals = api.values("/Deals", **{"$expand": "OtherProperties", "$top": 20})
        truth = {d["Id"]: d["OtherProperties"] for d in sim.admin.truth("deals", custom=True)}
        fields = {f["Key"]: f for f in sim.admin.truth("fields")}
        for deal in deals:
            keys = {item["FieldKey"] for item in deal["OtherProperties"]}
            assert keys == set(truth[deal["Id"]])  # a field without a value has no item
            for item in deal["OtherProperties"]:
                assert item["DealId"] == deal["Id"] and item["FieldId"] == fields[item["FieldKey"]]["Id"]
                assert {"StringValue", "DecimalValue", "ObjectValueId", "UserValueId"} <= set(item)  # all there
        assert "OtherProperties" not in api.values("/Deals", **{"$top": 1})[0]

    @pytest.mark.parametrize(
        ("path", "expand"),
        [
            ("/Deals", "Tags"),
            ("/Contacts", "Deals"),
            ("/Contacts", "Tags($expand=Nope)"),
            ("/Contacts", "Tags("),
        ],
    )
    def test_unknown_expansions_are_400(self, api: Api, path: str, expand: str) -> None:
        assert api.get(path, {"$expand": expand}).status_code == 400


class TestOrderBy:
    def test_several_keys_each_with_its_direction(self, api: Api, truth_deals: list[dict]) -> None:
        expected = sorted(truth_deals, key=lambda d: -d["Id"])
        expected = sorted(expected, key=lambda d: null_first_key(d["Amount"]))
        expected = sorted(expected, key=lambda d: d["StatusId"], reverse=True)
        found: list[dict] = []
        for skip in range(0, len(truth_deals), 300):
            found += api.values(
                "/Deals", **{"$orderby": "StatusId desc,Amount asc,Id desc", "$skip": skip, "$select": "Id"}
            )
        assert [d["Id"] for d in found] == [d["Id"] for d in expected]

    def test_default_direction_is_ascending(self, api: Api) -> None:
        amounts = [
            d["Amount"] for d in api.values("/Deals", **{"$orderby": "Amount", "$filter": "Amount ne null"})
        ]
        assert amounts == sorted(amounts)

    def test_dates_sort_by_instant_not_by_text(self, api: Api, sim: RunningSimulator) -> None:
        late = sim.admin.create_deal(CreateDate="2023-05-31T23:30:00-03:00")
        early = sim.admin.create_deal(CreateDate="2023-06-01T02:00:00Z")  # 23:00 in São Paulo
        window = f"Id ge {late['Id']}"
        found = api.values("/Deals", **{"$filter": window, "$orderby": "CreateDate"})
        assert [d["Id"] for d in found] == [early["Id"], late["Id"]]
        found = api.values("/Deals", **{"$filter": window, "$orderby": "CreateDate desc"})
        assert [d["Id"] for d in found] == [late["Id"], early["Id"]]

    def test_orderby_last_update_matches_the_truth(self, api: Api, truth_deals: list[dict]) -> None:
        found = api.values("/Deals", **{"$orderby": "LastUpdateDate desc,Id", "$top": 300})
        expected = sorted(truth_deals, key=lambda d: d["Id"])
        expected = sorted(expected, key=lambda d: datetime.fromisoformat(d["LastUpdateDate"]), reverse=True)
        assert [d["Id"] for d in found] == [d["Id"] for d in expected[:300]]

    @pytest.mark.parametrize("orderby", ["Id up", "Id asc desc", ",Id"])
    def test_malformed_orderby_is_400(self, api: Api, orderby: str) -> None:
        assert api.get("/Deals", {"$orderby": orderby}).status_code == 400

"""Keyset paging, the way the hook reads: every record exactly once."""

from __future__ import annotations

from collections import Counter

from ploomes_simulator import RunningSimulator
from tests.simulator.sim_support import Api


class TestKeysetPaging:
    def test_whole_list_every_deal_exactly_once(self, api: Api, truth_deals: list[dict]) -> None:
        deals = api.keyset()
        assert deals == truth_deals
        assert max(Counter(d["Id"] for d in deals).values()) == 1

    def test_contacts_with_tags(self, api: Api, sim: RunningSimulator) -> None:
        contacts = api.keyset("/Contacts", **{"$expand": "Tags($expand=Tag)"})
        assert contacts == sim.admin.truth_contacts()

    def test_with_a_user_filter(self, api: Api, truth_deals: list[dict]) -> None:
        deals = api.keyset(user_filter="StatusId eq 2 or Amount eq null", **{"$select": "Id,StatusId,Amount"})
        expected = [d for d in truth_deals if d["StatusId"] == 2 or d["Amount"] is None]
        assert deals == [{"Id": d["Id"], "StatusId": d["StatusId"], "Amount": d["Amount"]} for d in expected]

    def test_id_ge_and_upper_bounds(self, api: Api, truth_deals: list[dict]) -> None:
        low, high = truth_deals[100]["Id"], truth_deals[200]["Id"]
        found = api.values("/Deals", **{"$filter": f"Id ge {low} and Id le {high}", "$orderby": "Id"})
        assert found == truth_deals[100:201]
        found = api.values("/Deals", **{"$filter": f"Id gt {low} and Id lt {high} and Id gt 0"})
        assert found == truth_deals[101:200]

    def test_count_on_a_keyset_page(self, api: Api, truth_deals: list[dict]) -> None:
        body = api.get(
            "/Deals", {"$filter": f"Id gt {truth_deals[99]['Id']}", "$count": "true", "$top": 1}
        ).json()
        assert body["@odata.count"] == 600 and len(body["value"]) == 1

    def test_skip_paging_matches_on_static_data(self, api: Api, truth_deals: list[dict]) -> None:
        deals = []
        for skip in range(0, 900, 300):
            deals += api.values("/Deals", **{"$orderby": "Id", "$skip": skip})
        assert deals == truth_deals

    def test_changes_between_pages_lose_nothing(self, api: Api, sim: RunningSimulator) -> None:
        survivors = {d["Id"] for d in sim.admin.truth_deals()}
        seen: list[int] = []
        last, page_number = 0, 0
        while True:
            page = api.values("/Deals", **{"$filter": f"Id gt {last}", "$orderby": "Id", "$top": 100})
            if not page:
                break
            seen += [d["Id"] for d in page]
            last = page[-1]["Id"]
            result = sim.admin.mutate(updates=5, deletes=5, creates=1, seed=page_number)
            survivors -= set(result["deleted"])
            page_number += 1
        assert len(seen) == len(set(seen))
        assert survivors <= set(seen)

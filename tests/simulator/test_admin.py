"""The admin endpoints, through AdminClient."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ploomes_simulator import AdminError, RunningSimulator
from tests.simulator.sim_support import Api, start


def recent(text: str) -> bool:
    moment = datetime.fromisoformat(text)
    return text.endswith("-03:00") and abs(datetime.now(UTC) - moment) < timedelta(minutes=5)


class TestDeals:
    def test_create_fills_defaults_and_shows_in_the_api(self, api: Api, sim: RunningSimulator) -> None:
        before = sim.admin.truth_deals()
        deal = sim.admin.create_deal(Title="Nova venda", Amount=1234.56)
        assert deal["Id"] > before[-1]["Id"]
        assert recent(deal["CreateDate"]) and deal["LastUpdateDate"] == deal["CreateDate"]
        assert (deal["StatusId"], deal["FinishDate"], deal["ContactId"]) == (1, None, None)
        assert set(deal) == set(before[0])
        assert api.values("/Deals", **{"$filter": f"Id eq {deal['Id']}"}) == [deal]
        assert sim.admin.truth_deals()[-1] == deal

    def test_create_with_a_contact_names_it(self, sim: RunningSimulator) -> None:
        contact = sim.admin.truth_contacts()[0]
        deal = sim.admin.create_deal(ContactId=contact["Id"], StatusId=2, Id=450000000)
        assert (deal["Id"], deal["ContactName"]) == (450000000, contact["Name"])
        assert deal["FinishDate"] is not None

    def test_create_keeps_given_dates(self, sim: RunningSimulator) -> None:
        deal = sim.admin.create_deal(CreateDate="2023-12-31T23:59:59.999-03:00")
        assert deal["CreateDate"] == "2023-12-31T23:59:59.999-03:00"
        assert deal["StartDate"] == "2023-12-31T00:00:00-03:00"

    @pytest.mark.parametrize(
        ("fields", "status"),
        [
            ({"Nope": 1}, 400),
            ({"Amount": "12,5"}, 400),
            ({"CreateDate": "yesterday"}, 400),
            ({"Id": "abc"}, 400),
        ],
    )
    def test_create_rejects_bad_fields(self, sim: RunningSimulator, fields: dict, status: int) -> None:
        with pytest.raises(AdminError) as raised:
            sim.admin.create_deal(**fields)
        assert raised.value.status == status

    def test_create_with_a_taken_id_is_409(self, sim: RunningSimulator, truth_deals: list[dict]) -> None:
        with pytest.raises(AdminError) as raised:
            sim.admin.create_deal(Id=truth_deals[0]["Id"])
        assert raised.value.status == 409

    def test_update_changes_fields_and_bumps_last_update(self, api: Api, sim: RunningSimulator) -> None:
        old = sim.admin.truth_deals()[10]
        new = sim.admin.update_deal(old["Id"], Amount=99.99, StatusId=3)
        assert (new["Amount"], new["StatusId"], new["Title"]) == (99.99, 3, old["Title"])
        assert recent(new["LastUpdateDate"])
        assert datetime.fromisoformat(new["LastUpdateDate"]) > datetime.fromisoformat(old["LastUpdateDate"])
        window = datetime.now(UTC) - timedelta(minutes=1)
        changed = api.keyset(user_filter=f"LastUpdateDate ge {window.isoformat()}")
        assert [d["Id"] for d in changed] == [old["Id"]]
        assert changed[0] == new

    def test_update_keeps_a_given_last_update(self, sim: RunningSimulator, truth_deals: list[dict]) -> None:
        new = sim.admin.update_deal(truth_deals[0]["Id"], LastUpdateDate="2025-01-01T00:00:00-03:00")
        assert new["LastUpdateDate"] == "2025-01-01T00:00:00-03:00"

    def test_update_missing_deal_is_404(self, sim: RunningSimulator) -> None:
        with pytest.raises(AdminError) as raised:
            sim.admin.update_deal(1, Amount=1)
        assert raised.value.status == 404

    def test_delete_removes_it_everywhere(
        self, api: Api, sim: RunningSimulator, truth_deals: list[dict]
    ) -> None:
        victim = truth_deals[5]["Id"]
        assert sim.admin.delete_deal(victim)["Id"] == victim
        assert api.values("/Deals", **{"$filter": f"Id eq {victim}"}) == []
        assert victim not in [d["Id"] for d in sim.admin.truth_deals()]
        with pytest.raises(AdminError) as raised:
            sim.admin.delete_deal(victim)
        assert raised.value.status == 404


class TestRawDeals:
    def test_raw_record_is_stored_and_served_exactly(self, api: Api, sim: RunningSimulator) -> None:
        hostile = {
            "Id": 399999995,
            "Title": None,
            "Amount": "NaN",
            "CreateDate": 12,
            "Extra": {"x": [1, "ç"]},
        }
        assert sim.admin.create_deal_raw(hostile) == hostile
        assert api.values("/Deals", **{"$filter": "Id eq 399999995"}) == [hostile]
        assert sim.admin.truth_deals()[0] == hostile

    def test_raw_record_without_integer_id_goes_last(self, api: Api, sim: RunningSimulator) -> None:
        no_id = {"Title": "sem id"}
        text_id = {"Id": "400000002", "Title": "id em texto"}
        sim.admin.create_deal_raw(no_id)
        sim.admin.create_deal_raw(text_id)
        assert sim.admin.truth_deals()[-2:] == [no_id, text_id]
        assert no_id not in api.keyset()  # "Id gt n" is false for them
        everything = []
        for skip in range(0, 702, 300):
            everything += api.values("/Deals", **{"$skip": skip})
        assert everything[-2:] == [no_id, text_id] and len(everything) == 702
        assert sim.admin.delete_deal("400000002") == text_id

    def test_raw_update_merges_exactly(self, sim: RunningSimulator, truth_deals: list[dict]) -> None:
        old = truth_deals[0]
        new = sim.admin.update_deal_raw(old["Id"], {"Amount": "mil"})
        assert new == {**old, "Amount": "mil"}


class TestContacts:
    def test_create_update_delete(self, api: Api, sim: RunningSimulator) -> None:
        contact = sim.admin.create_contact(
            Name="Padaria Nova Ltda", CNPJ="11.222.333/0001-81", Tags=[40006184]
        )
        assert contact["Tags"] == [{"TagId": 40006184, "Tag": {"Id": 40006184, "Name": "Cliente"}}]
        assert recent(contact["CreateDate"]) and contact["ZipCode"] is None
        shown = api.values(
            "/Contacts", **{"$filter": f"Id eq {contact['Id']}", "$expand": "Tags($expand=Tag)"}
        )
        assert shown == [contact]
        updated = sim.admin.update_contact(contact["Id"], Name="Padaria Nova", Tags=[])
        assert (updated["Name"], updated["Tags"]) == ("Padaria Nova", [])
        sim.admin.delete_contact(contact["Id"])
        assert api.values("/Contacts", **{"$filter": f"Id eq {contact['Id']}"}) == []

    def test_raw_contact(self, sim: RunningSimulator) -> None:
        raw = {"Id": 1, "ZipCode": "01310-100", "Tags": "not a list"}
        assert sim.admin.create_contact_raw(raw) == raw
        assert sim.admin.truth_contacts()[0] == {**raw, "Tags": []}

    def test_deleting_a_contact_leaves_its_deals_dangling(self, sim: RunningSimulator) -> None:
        contact_ids = {c["Id"] for c in sim.admin.truth_contacts()}
        deal = next(d for d in sim.admin.truth_deals() if d["ContactId"] in contact_ids)
        sim.admin.delete_contact(deal["ContactId"])
        assert sim.admin.get_deal(deal["Id"])["ContactId"] == deal["ContactId"]


class TestMutate:
    def test_mutate_updates_deletes_and_creates(self, api: Api, sim: RunningSimulator) -> None:
        before = {d["Id"]: d for d in sim.admin.truth_deals()}
        result = sim.admin.mutate(updates=20, deletes=10, creates=5, seed=3)
        after = {d["Id"]: d for d in sim.admin.truth_deals()}
        assert (len(result["updated"]), len(result["deleted"]), len(result["created"])) == (20, 10, 5)
        assert not set(result["updated"]) & set(result["deleted"])
        assert set(after) == (set(before) - set(result["deleted"])) | set(result["created"])
        for deal_id in result["updated"]:
            assert recent(after[deal_id]["LastUpdateDate"]) and after[deal_id] != before[deal_id]
            assert (after[deal_id]["FinishDate"] is None) == (after[deal_id]["StatusId"] == 1)
        for deal_id in result["created"]:
            assert deal_id > max(before) and recent(after[deal_id]["CreateDate"])
        window = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
        touched = api.keyset(user_filter=f"LastUpdateDate ge {window}")
        assert {d["Id"] for d in touched} == set(result["updated"]) | set(result["created"])

    def test_mutate_is_reproducible(self, api_key: str) -> None:
        results = []
        for _ in range(2):
            with start(api_key) as sim:
                results.append(sim.admin.mutate(updates=5, deletes=5, creates=2, seed=11))
        assert results[0] == results[1]

    def test_mutate_rejects_negative_counts(self, sim: RunningSimulator) -> None:
        with pytest.raises(AdminError):
            sim.admin.mutate(updates=-1)


class TestConfigAndReset:
    def test_configure_returns_the_whole_config(self, sim: RunningSimulator, api_key: str) -> None:
        config = sim.admin.configure(rate_limit=30, slow_seconds=0.5)
        assert config["rate_limit"] == 30 and config["slow_seconds"] == 0.5
        assert config["api_key"] == api_key and config["deals"] == 700 and config["auth_status"] == 403
        assert sim.admin.config() == config

    @pytest.mark.parametrize(
        "settings",
        [{"auth_status": 500}, {"rate_limit": -1}, {"retry_after": "yes"}, {"deals": 10}, {"api_key": 5}],
    )
    def test_invalid_settings_are_400_and_change_nothing(self, sim: RunningSimulator, settings: dict) -> None:
        before = sim.admin.config()
        with pytest.raises(AdminError) as raised:
            sim.admin.configure(**settings)
        assert raised.value.status == 400
        assert sim.admin.config() == before

    def test_reset_restores_data_config_faults_and_log(self, api: Api, sim: RunningSimulator) -> None:
        initial_deals, initial_contacts = sim.admin.truth_deals(), sim.admin.truth_contacts()
        initial_config = sim.admin.config()
        sim.admin.mutate(updates=5, deletes=5, creates=5, seed=1)
        sim.admin.delete_contact(initial_contacts[0]["Id"])
        sim.admin.configure(api_key="other", rate_limit=3)
        sim.admin.set_faults(schedule=[{"kind": "500", "count": 10}])
        api.get("/Deals")
        sim.admin.reset()
        assert sim.admin.truth_deals() == initial_deals
        assert sim.admin.truth_contacts() == initial_contacts
        assert sim.admin.config() == initial_config
        assert sim.admin.faults()["schedule"] == []
        assert sim.admin.requests() == []
        assert api.get("/Deals", {"$top": 1}).status_code == 200


class TestRequestLog:
    def test_entries_hold_the_decoded_query(self, api: Api, sim: RunningSimulator) -> None:
        api.get("/Deals", {"$filter": "Title eq 'Pão & Cia'", "$top": 3})
        api.get("/Nope")
        first, second = sim.admin.requests()
        assert first["method"] == "GET" and first["path"] == "/Deals" and first["status"] == 200
        assert first["query"] == {"$filter": "Title eq 'Pão & Cia'", "$top": "3"}
        assert first["fault"] is None and isinstance(first["t"], float)
        assert second["status"] == 404
        assert sim.admin.request_counts() == {"total": 2, "by_status": {"200": 1, "404": 1}}

    def test_clear_requests(self, api: Api, sim: RunningSimulator) -> None:
        api.get("/Account")
        sim.admin.clear_requests()
        assert sim.admin.requests() == [] and sim.admin.request_counts()["total"] == 0

    def test_unknown_admin_endpoint_is_404(self, sim: RunningSimulator) -> None:
        with pytest.raises(AdminError) as raised:
            sim.admin._call("GET", "nothing-here")
        assert raised.value.status == 404

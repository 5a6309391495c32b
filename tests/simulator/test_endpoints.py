"""The API surface: envelope, endpoints, paging options, errors."""

from __future__ import annotations

import http.client

import pytest

from ploomes_simulator import RunningSimulator
from tests.simulator.sim_support import Api


class TestEnvelope:
    def test_deals_come_in_an_odata_envelope(self, api: Api, sim: RunningSimulator) -> None:
        response = api.get("/Deals", {"$top": 5})
        assert response.status_code == 200
        assert response.headers["Content-Type"].startswith("application/json")
        body = response.json()
        assert body["@odata.context"] == f"{sim.url}/$metadata#Deals"
        assert set(body) == {"@odata.context", "value"}
        assert len(body["value"]) == 5
        assert {"Id", "Title", "ContactId", "Amount", "StatusId", "CreateDate", "LastUpdateDate"} <= set(
            body["value"][0]
        )

    def test_contacts_leave_out_tags_unless_expanded(self, api: Api) -> None:
        contacts = api.values("/Contacts", **{"$top": 10})
        assert contacts and all("Tags" not in contact for contact in contacts)
        assert {"Id", "TypeId", "Name", "CNPJ", "ZipCode"} <= set(contacts[0])

    def test_account_answers_the_cheap_key_check(self, api: Api) -> None:
        body = api.get("/Account", {"$top": 1, "$select": "Id"}).json()
        assert body["@odata.context"].endswith("#Account")
        assert len(body["value"]) == 1 and set(body["value"][0]) == {"Id"}
        assert set(api.values("/Account")[0]) == {"Id", "Name"}

    def test_deal_statuses_and_contact_types_are_listed(self, api: Api) -> None:
        assert [s["Id"] for s in api.values("/Deals@Status")] == [1, 2, 3]
        assert [t["Id"] for t in api.values("/Contacts@Types")] == [1, 2]
        assert [s["Id"] for s in api.values("/Deals%40Status")] == [1, 2, 3]

    def test_unknown_path_is_404_with_an_error_body(self, api: Api) -> None:
        response = api.get("/Dealz")
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "NotFound"

    def test_connection_is_kept_alive_with_content_length(self, sim: RunningSimulator, api_key: str) -> None:
        connection = http.client.HTTPConnection(sim.url.removeprefix("http://"), timeout=10)
        try:
            lengths = []
            for attempt in range(3):
                connection.request("GET", "/Deals?%24top=2", headers={"User-Key": api_key})
                response = connection.getresponse()
                body = response.read()
                assert response.status == 200 and not response.will_close
                lengths.append((int(response.headers["Content-Length"]), len(body)))
                if attempt == 0:
                    first_socket = connection.sock
            assert connection.sock is first_socket
            assert all(declared == actual for declared, actual in lengths)
        finally:
            connection.close()


class TestTopSkipCount:
    def test_top_is_silently_capped_at_300(self, api: Api) -> None:
        assert len(api.values("/Deals", **{"$top": 1000})) == 300

    def test_top_defaults_to_300(self, api: Api) -> None:
        assert len(api.values("/Deals")) == 300

    def test_top_and_skip_slice_the_ordered_list(self, api: Api, truth_deals: list[dict]) -> None:
        page = api.values("/Deals", **{"$orderby": "Id", "$skip": 650, "$top": 100})
        assert [d["Id"] for d in page] == [d["Id"] for d in truth_deals[650:750]]
        assert len(page) == 50

    @pytest.mark.parametrize("filter_", [None, "StatusId eq 2", "Id gt 400005000 and Id le 400012000"])
    def test_descending_ids_slice_the_list_from_its_end(self, api: Api, truth_deals: list[dict],
                                                        filter_: str | None) -> None:
        ids = [d["Id"] for d in api.keyset(user_filter=filter_)] if filter_ else [d["Id"] for d in truth_deals]
        params = {"$orderby": "Id desc", "$skip": 7, "$top": 40, "$count": "true"}
        body = api.get("/Deals", {**params, **({"$filter": filter_} if filter_ else {})}).json()
        assert [d["Id"] for d in body["value"]] == ids[::-1][7:47]
        assert body["@odata.count"] == len(ids)

    @pytest.mark.parametrize("ignored", ["$skip", "$orderby", "$skip,$orderby"])
    def test_options_set_to_be_ignored_are(self, api: Api, sim: RunningSimulator, truth_deals: list[dict],
                                           ignored: str) -> None:
        sim.admin.configure(ignored_options=ignored)
        page = api.values("/Deals", **{"$orderby": "Id desc", "$skip": 10, "$top": 5})
        skip = 0 if "$skip" in ignored else 10
        ordered = truth_deals if "$orderby" in ignored else truth_deals[::-1]
        assert [d["Id"] for d in page] == [d["Id"] for d in ordered[skip:skip + 5]]

    def test_only_skip_and_orderby_can_be_ignored(self, sim: RunningSimulator) -> None:
        with pytest.raises(Exception, match="ignored_options"):
            sim.admin.configure(ignored_options="$filter")

    def test_skip_past_the_end_is_empty(self, api: Api) -> None:
        assert api.values("/Deals", **{"$skip": 5000}) == []

    def test_count_gives_the_total_ignoring_top_and_skip(self, api: Api) -> None:
        body = api.get(
            "/Deals", {"$count": "true", "$top": 3, "$skip": 10, "$filter": "StatusId eq 2"}
        ).json()
        won = len(api.keyset(user_filter="StatusId eq 2"))
        assert body["@odata.count"] == won
        assert len(body["value"]) == 3

    def test_count_is_silently_ignored_when_unsupported(self, api: Api, sim: RunningSimulator) -> None:
        sim.admin.configure(count_supported=False)
        response = api.get("/Deals", {"$count": "true", "$top": 2})
        assert response.status_code == 200
        assert "@odata.count" not in response.json()
        assert len(response.json()["value"]) == 2

    @pytest.mark.parametrize("params", [{"$top": "-1"}, {"$top": "ten"}, {"$skip": "1.5"}, {"$count": "yes"}])
    def test_invalid_values_are_400(self, api: Api, params: dict) -> None:
        response = api.get("/Deals", params)
        assert response.status_code == 400
        assert response.json()["error"]["code"] == "BadRequest"


class TestBadRequests:
    @pytest.mark.parametrize(
        "params",
        [
            {"$filter": "Nope eq 1"},
            {"$select": "Id,Nope"},
            {"$orderby": "Nope desc"},
            {"$expand": "Nope"},
            {"$filter": "Contact/Name eq 'x'"},
        ],
    )
    def test_unknown_property_is_400(self, api: Api, params: dict) -> None:
        response = api.get("/Deals", params)
        assert response.status_code == 400
        error = response.json()["error"]
        assert error["code"] == "BadRequest"
        assert "Nope" in error["message"] or "Contact/Name" in error["message"]

    def test_unknown_option_is_400(self, api: Api) -> None:
        response = api.get("/Deals", {"$fitler": "Id gt 1"})
        assert response.status_code == 400
        assert "$fitler" in response.json()["error"]["message"]

    def test_custom_parameters_without_dollar_are_ignored(self, api: Api) -> None:
        assert api.get("/Deals", {"foo": "bar", "$top": 1}).status_code == 200

    def test_repeated_option_is_400(self, api: Api) -> None:
        response = api.get("/Deals", [("$top", "1"), ("$top", "2")])  # type: ignore[arg-type]
        assert response.status_code == 400

    @pytest.mark.parametrize(
        "expression",
        [
            "Id gt",
            "(Id gt 1",
            "Id gt 1)",
            "Id gt 1 and",
            "Id gtt 1",
            "Title eq 'unterminated",
            "CreateDate ge 2024-01-01",
            "CreateDate ge '2024-01-01T00:00:00-03:00'",
            "Amount eq 'x'",
            "Title eq 5",
            "contains(Amount,'1')",
            "Amount",
        ],
    )
    def test_malformed_or_ill_typed_filter_is_400(self, api: Api, expression: str) -> None:
        response = api.get("/Deals", {"$filter": expression})
        assert response.status_code == 400, response.text
        assert response.json()["error"]["message"]

    def test_other_methods_than_get_are_405(self, api: Api) -> None:
        response = api.session.post(api.url + "/Deals", headers={"User-Key": api.key}, json={})
        assert response.status_code == 405

"""Fault injection by schedule and by probability."""

from __future__ import annotations

import json
import time

import pytest
import requests

from ploomes_simulator import AdminError, RunningSimulator
from ploomes_simulator.faults import FaultInjector
from tests.simulator.sim_support import Api


class TestScheduledFaults:
    @pytest.mark.parametrize("kind", ["500", "502", "503", "504"])
    def test_error_status_after_skipping_some_requests(
        self, api: Api, sim: RunningSimulator, kind: str
    ) -> None:
        sim.admin.set_faults(schedule=[{"kind": kind, "count": 2, "after": 1, "path": "/Deals"}])
        statuses = [api.get("/Deals", {"$top": 1}).status_code for _ in range(4)]
        assert statuses == [200, int(kind), int(kind), 200]
        log = sim.admin.requests()
        assert [entry["fault"] for entry in log] == [None, kind, kind, None]
        assert [entry["status"] for entry in log] == statuses

    def test_error_body_is_json(self, api: Api, sim: RunningSimulator) -> None:
        sim.admin.set_faults(schedule=[{"kind": "503"}])
        response = api.get("/Deals")
        assert response.status_code == 503
        assert response.json()["error"]["code"] == "ServiceUnavailable"

    def test_429_fault_honours_retry_after_setting(self, api: Api, sim: RunningSimulator) -> None:
        sim.admin.set_faults(schedule=[{"kind": "429", "count": 2}])
        with_header = api.get("/Deals")
        sim.admin.configure(retry_after=False)
        without_header = api.get("/Deals")
        assert (with_header.status_code, without_header.status_code) == (429, 429)
        assert int(with_header.headers["Retry-After"]) >= 1
        assert "Retry-After" not in without_header.headers

    def test_slow_answers_late_but_normally(self, api: Api, sim: RunningSimulator) -> None:
        sim.admin.configure(slow_seconds=0.3)
        sim.admin.set_faults(schedule=[{"kind": "slow"}])
        started = time.monotonic()
        response = api.get("/Deals", {"$top": 2})
        assert time.monotonic() - started >= 0.3
        assert response.status_code == 200 and len(response.json()["value"]) == 2
        assert sim.admin.requests()[0]["fault"] == "slow"

    def test_drop_closes_the_connection_without_an_answer(self, api: Api, sim: RunningSimulator) -> None:
        sim.admin.set_faults(schedule=[{"kind": "drop"}])
        with pytest.raises(requests.ConnectionError):
            api.get("/Deals")
        assert api.get("/Deals", {"$top": 1}).status_code == 200
        entry = sim.admin.requests()[0]
        assert (entry["status"], entry["fault"]) == (None, "drop")
        assert sim.admin.request_counts()["by_status"] == {"dropped": 1, "200": 1}

    def test_malformed_is_200_with_invalid_json(self, api: Api, sim: RunningSimulator) -> None:
        sim.admin.set_faults(schedule=[{"kind": "malformed"}])
        response = api.get("/Deals", {"$top": 5})
        assert response.status_code == 200
        assert int(response.headers["Content-Length"]) == len(response.content)
        with pytest.raises(json.JSONDecodeError):
            json.loads(response.content)

    def test_path_restricts_the_fault(self, api: Api, sim: RunningSimulator) -> None:
        sim.admin.set_faults(schedule=[{"kind": "500", "count": 1, "path": "/Contacts"}])
        assert api.get("/Deals").status_code == 200
        assert api.get("/Contacts").status_code == 500
        assert api.get("/Contacts").status_code == 200

    def test_entries_apply_in_order(self, api: Api, sim: RunningSimulator) -> None:
        sim.admin.set_faults(
            schedule=[{"kind": "502", "count": 1, "after": 2}, {"kind": "504", "count": 1, "after": 0}]
        )
        assert [api.get("/Account").status_code for _ in range(4)] == [504, 200, 502, 200]

    def test_admin_is_never_faulted(self, sim: RunningSimulator) -> None:
        sim.admin.set_faults(schedule=[{"kind": "drop", "count": 5}], probability={"500": 1.0})
        assert len(sim.admin.truth_deals()) == 700
        assert sim.admin.faults()["schedule"][0]["count"] == 5

    def test_clear_faults(self, api: Api, sim: RunningSimulator) -> None:
        sim.admin.set_faults(schedule=[{"kind": "500", "count": 3}])
        sim.admin.clear_faults()
        assert api.get("/Account").status_code == 200

    @pytest.mark.parametrize(
        "config",
        [
            {"schedule": [{"kind": "418"}]},
            {"schedule": [{"kind": "500", "count": -1}]},
            {"schedule": [{"kind": "500", "when": 3}]},
            {"probability": {"503": 1.5}},
            {"probability": {"503": 0.6, "500": 0.6}},
        ],
    )
    def test_invalid_configuration_is_400(self, sim: RunningSimulator, config: dict) -> None:
        with pytest.raises(AdminError) as raised:
            sim.admin.set_faults(**config)
        assert raised.value.status == 400


class TestProbableFaults:
    def test_probability_with_a_seed_is_reproducible(self, api: Api, sim: RunningSimulator) -> None:
        def run() -> list[int]:
            sim.admin.set_faults(probability={"503": 0.3, "500": 0.2}, seed=7)
            return [api.get("/Account").status_code for _ in range(40)]

        first, second = run(), run()
        assert first == second
        assert {200, 500, 503} == set(first)
        sim.admin.set_faults(probability={"503": 0.3, "500": 0.2}, seed=8)
        assert [api.get("/Account").status_code for _ in range(40)] != first


class TestInjector:
    def test_after_counts_requests_faulted_by_other_entries(self) -> None:
        injector = FaultInjector()
        injector.configure([{"kind": "500", "count": 1}, {"kind": "503", "after": 1}], None)
        assert [injector.pick("/Deals") for _ in range(3)] == ["500", "503", None]

    def test_paths_compare_without_case_or_trailing_slash(self) -> None:
        injector = FaultInjector()
        injector.configure([{"kind": "500", "count": 2, "path": "/deals/"}], None)
        assert [injector.pick(path) for path in ("/Contacts", "/Deals", "/DEALS")] == [None, "500", "500"]


class TestLatency:
    def test_an_uneven_latency_has_a_jitter_and_a_slow_tail(self, api: Api, sim: RunningSimulator,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
        # 0.6 s plus up to 2 s, and 30% of answers at 4.8 s instead (the delays are recorded, not slept)
        from ploomes_simulator import state

        waited: list[float] = []
        monkeypatch.setattr(state.time, "sleep", waited.append)
        sim.admin.configure(latency_seconds=0.6, latency_jitter_seconds=2.0, latency_tail_percent=30,
                            latency_tail_seconds=4.8)
        for _ in range(100):
            assert api.get("/Deals", {"$top": 1}).status_code == 200

        tail = [delay for delay in waited if delay == 4.8]
        body = [delay for delay in waited if delay != 4.8]
        assert len(waited) == 100 and 15 <= len(tail) <= 45
        assert all(0.6 <= delay <= 2.6 for delay in body) and max(body) - min(body) > 1.0

    def test_a_tail_share_out_of_range_is_refused(self, sim: RunningSimulator) -> None:
        with pytest.raises(AdminError, match="latency_tail_percent"):
            sim.admin.configure(latency_tail_percent=101)


class TestWrongAnswers:
    """Answers a client cannot tell from good ones by their status (``faults.py``)."""

    def test_empty_answers_no_record_and_a_count_of_0(self, api: Api, sim: RunningSimulator) -> None:
        sim.admin.set_faults(schedule=[{"kind": "empty", "path": "/Deals"}])
        document = api.get("/Deals", {"$top": 5, "$count": "true"}).json()
        assert (document["value"], document["@odata.count"]) == ([], 0)
        assert len(api.values("/Deals", **{"$top": 5})) == 5  # the next answer is good

    def test_partial_leaves_out_the_2nd_and_3rd_records_and_keeps_the_count(self, api: Api,
                                                                           sim: RunningSimulator) -> None:
        good = api.get("/Contacts", {"$top": 6, "$orderby": "Id", "$count": "true"}).json()
        sim.admin.set_faults(schedule=[{"kind": "partial"}])
        bad = api.get("/Contacts", {"$top": 6, "$orderby": "Id", "$count": "true"}).json()
        ids = [record["Id"] for record in good["value"]]
        assert [record["Id"] for record in bad["value"]] == ids[:1] + ids[3:]
        assert bad["@odata.count"] == good["@odata.count"]

    def test_endless_ignores_id_gt_and_serves_new_ascending_ids(self, api: Api, sim: RunningSimulator) -> None:
        highest = max(deal["Id"] for deal in sim.admin.truth_deals())
        sim.admin.set_faults(schedule=[{"kind": "endless", "count": 3}])
        after = highest
        for _ in range(3):
            page = api.values("/Deals", **{"$filter": f"Id gt {after}", "$orderby": "Id", "$top": 50})
            ids = [record["Id"] for record in page]
            assert ids == list(range(after + 1, after + 51))
            after = ids[-1]

    def test_negative_count(self, api: Api, sim: RunningSimulator) -> None:
        sim.admin.set_faults(schedule=[{"kind": "negative_count"}])
        document = api.get("/Deals", {"$top": 2, "$count": "true"}).json()
        assert document["@odata.count"] == -5 and len(document["value"]) == 2

    def test_huge_answers_past_the_configured_size(self, api: Api, sim: RunningSimulator) -> None:
        sim.admin.configure(huge_answer_bytes=2_000_000)
        sim.admin.set_faults(schedule=[{"kind": "huge"}])
        response = api.get("/Deals", {"$top": 2})
        assert response.status_code == 200 and len(response.content) > 2_000_000
        assert len(response.json()["value"]) == 2

    def test_drip_sends_the_body_a_byte_at_a_time(self, api: Api, sim: RunningSimulator) -> None:
        sim.admin.configure(drip_seconds=0.01)
        sim.admin.set_faults(schedule=[{"kind": "drip"}])
        started = time.monotonic()
        response = api.get("/Deals", {"$top": 1, "$select": "Id"})
        assert response.json()["value"][0]["Id"] > 0
        assert time.monotonic() - started >= 0.01 * (len(response.content) - 1)

    def test_redirect_sends_the_client_to_another_host(self, api: Api, sim: RunningSimulator) -> None:
        sim.admin.configure(redirect_to="http://127.0.0.2:8089")
        sim.admin.set_faults(schedule=[{"kind": "redirect"}])
        response = api.session.get(api.url + "/Deals", params={"$top": 1}, allow_redirects=False, timeout=10)
        assert response.status_code == 301
        assert response.headers["Location"] == "http://127.0.0.2:8089/Deals?%24top=1"

    def test_echo_key_quotes_the_key_in_other_forms_in_a_refusal(self, api: Api, sim: RunningSimulator) -> None:
        sim.admin.configure(echo_key=True)
        wrong = "Wrong-Key-0123456789abcdef"
        message = api.get("/Deals", key=wrong).json()["error"]["message"]
        assert wrong.lower() in message and wrong[:13] in message and wrong not in message


def test_a_fault_may_be_kept_for_requests_whose_filter_holds_a_text(api: Api, sim: RunningSimulator) -> None:
    sim.admin.set_faults(schedule=[{"kind": "empty", "count": 1, "filter": "Id eq"}])
    assert len(api.values("/Deals", **{"$top": 3})) == 3  # no filter: not this fault's
    first = sim.admin.truth_deals()[0]["Id"]
    assert api.values("/Deals", **{"$filter": f"Id eq {first}"}) == []
    assert [d["Id"] for d in api.values("/Deals", **{"$filter": f"Id eq {first}"})] == [first]

"""The hook and a read against answers a hostile or broken server gives: every one has a bound.

The key goes only where the connection says (no redirect to another scheme, host or port; no plain
http to another machine unless the connection allows it); an answer is taken whole within the
timeout and the size cap or not at all; a read stops past what Ploomes counted for it; a count
below 0 is no count.
"""

from __future__ import annotations

import pytest

from ploomes_simulator import RunningSimulator
from ploomes_sync.api.errors import (
    PloomesAnswerTooLarge,
    PloomesPagingError,
    PloomesRedirectError,
    PloomesRequestError,
    timed_out,
)
from ploomes_sync.api.reader import read_pages
from ploomes_sync.hooks.ploomes import PloomesHook
from tests.hooks.conftest import Connect
from tests.support.capture import capturing_server
from tests.support.simulated_api import api_log, truth_ids


class TestTheKeyGoesOnlyWhereTheConnectionSays:
    def test_a_redirect_to_another_host_is_not_followed_and_names_its_location(
        self, connect: Connect, sim: RunningSimulator, api_key: str
    ) -> None:
        connect(max_attempts=5)
        with capturing_server() as other:
            sim.admin.configure(redirect_to=other.url)
            sim.admin.set_faults(schedule=[{"kind": "redirect", "count": 10}])

            with pytest.raises(PloomesRedirectError) as raised:
                PloomesHook().fetch("Deals", {"$top": "1"})

            assert other.requests == []  # nothing reached the other host, the key least of all
        message = str(raised.value)
        assert f"redirecting to {other.url}/Deals?$top=1" in message
        assert "not followed" in message and "host of connection 'ploomes_default'" in message
        assert api_key not in message
        assert len(api_log(sim)) == 1  # not retried

    @pytest.mark.parametrize("other_port", [True, False], ids=["another port", "another scheme"])
    def test_another_port_or_scheme_is_another_place(self, connect: Connect, sim: RunningSimulator,
                                                     other_port: bool) -> None:
        connect()
        host, port = sim.url.removeprefix("http://").split(":")
        sim.admin.configure(redirect_to=f"http://{host}:{int(port) + 1}" if other_port else f"https://{host}:{port}")
        sim.admin.set_faults(schedule=[{"kind": "redirect"}])

        with pytest.raises(PloomesRedirectError):
            PloomesHook().fetch("Deals", {"$top": "1"})

    def test_a_redirect_to_the_same_place_is_followed(self, connect: Connect, sim: RunningSimulator) -> None:
        connect()
        sim.admin.configure(redirect_to=sim.url)
        sim.admin.set_faults(schedule=[{"kind": "redirect"}])

        payload = PloomesHook().fetch("Deals", {"$top": "2"})

        assert len(payload["value"]) == 2 and len(api_log(sim)) == 2  # the redirect, then the page

    def test_a_write_is_never_redirected(self, connect: Connect, sim: RunningSimulator) -> None:
        connect()
        sim.admin.configure(redirect_to=sim.url)
        sim.admin.set_faults(schedule=[{"kind": "redirect"}])

        with pytest.raises(PloomesRedirectError, match="a POST is never redirected"):
            PloomesHook().write("POST", "Webhooks", {"EntityId": 2})

    def test_plain_http_to_another_machine_is_refused_unless_the_connection_allows_it(
        self, connect: Connect
    ) -> None:
        connect(host="http://ploomes.internal.example:8089")
        refused = PloomesHook()
        ok, message = refused.test_connection()
        assert not ok and "plain http" in message and "allow_http" in message
        with pytest.raises(ValueError, match="plain http"):
            refused.options  # noqa: B018 (reads the connection)

        connect(host="http://ploomes.internal.example:8089", allow_http=True)
        assert PloomesHook().options.allow_http
        connect(host="ftp://ploomes.example")
        with pytest.raises(ValueError, match="must start with https"):
            PloomesHook().options  # noqa: B018

    def test_plain_http_on_this_machine_is_allowed(self, connect: Connect, sim: RunningSimulator) -> None:
        connect()  # http://127.0.0.1:<port>
        assert PloomesHook().fetch("Deals", {"$top": "1"})["value"]


class TestAnAnswerHasBounds:
    def test_a_body_sent_a_byte_at_a_time_is_given_up_at_the_timeout_not_per_byte(
        self, connect: Connect, sim: RunningSimulator
    ) -> None:
        connect(timeout=1, max_attempts=2)
        sim.admin.configure(drip_seconds=0.2)  # a byte every 0.2 s: each read of the socket is quick
        sim.admin.set_faults(schedule=[{"kind": "drip", "count": 2}])

        with pytest.raises(PloomesRequestError) as raised:
            PloomesHook().fetch("Deals", {"$top": "5"})

        assert "not whole within 1 s" in str(raised.value) and timed_out(raised.value)
        came = int(str(raised.value).split("(")[-1].split(" bytes came")[0])
        assert 0 < came < 40  # a few bytes, far from the whole page

    def test_an_answer_larger_than_the_cap_is_refused_without_reading_it_all(
        self, connect: Connect, sim: RunningSimulator
    ) -> None:
        connect(max_answer_bytes=100_000, max_attempts=2)
        sim.admin.configure(huge_answer_bytes=3_000_000)
        sim.admin.set_faults(schedule=[{"kind": "huge", "count": 2}])

        with pytest.raises(PloomesRequestError) as raised:
            PloomesHook().fetch("Deals", {"$top": "5"})

        assert isinstance(raised.value.last, PloomesAnswerTooLarge)
        assert "larger than 100000 bytes" in str(raised.value)

    def test_a_negative_count_is_no_count(self, connect: Connect, sim: RunningSimulator) -> None:
        connect(page_size=100)
        sim.admin.set_faults(schedule=[{"kind": "negative_count"}])

        ids = [r["Id"] for records in PloomesHook().paginate("Deals", select=["Id"]) for r in records]

        assert ids == truth_ids(sim)


class TestAReadHasBounds:
    def test_an_api_that_ignores_id_gt_and_serves_new_ids_is_stopped_past_its_count(
        self, connect: Connect, sim: RunningSimulator
    ) -> None:
        # under a filter the count cannot end a read (records may enter it while it reads)
        connect(page_size=100, max_in_flight=1)
        sim.admin.set_faults(schedule=[{"kind": "endless", "count": 10_000, "after": 1, "path": "/Deals"}])

        with pytest.raises(PloomesPagingError) as raised:
            for _ in read_pages(PloomesHook(), "Deals", filter="StatusId ne 99", select=["Id"]):
                pass

        assert "more than 2 times the 700 Ploomes counted for it plus 1000" in str(raised.value)
        assert len(api_log(sim, "/Deals")) <= (2 * 700 + 1000) // 100 + 2

    def test_without_a_count_the_warehouse_bounds_it(self, connect: Connect, sim: RunningSimulator) -> None:
        connect(page_size=100, max_in_flight=1)
        sim.admin.configure(count_supported=False)
        sim.admin.set_faults(schedule=[{"kind": "endless", "count": 10_000, "after": 2, "path": "/Deals"}])

        with pytest.raises(PloomesPagingError, match="the 48 the warehouse holds"):
            for _ in read_pages(PloomesHook(), "Deals", select=["Id"], expected=48):
                pass
        assert len(api_log(sim, "/Deals")) <= (2 * 48 + 1000) // 100 + 3

    def test_without_a_count_or_a_basis_the_highest_id_bounds_it(self, connect: Connect,
                                                                 sim: RunningSimulator) -> None:
        connect(page_size=10, max_in_flight=1)
        sim.admin.configure(count_supported=False)
        sim.admin.set_faults(schedule=[{"kind": "endless", "count": 10_000, "after": 2, "path": "/Contacts"}])

        read = [r["Id"] for page in read_pages(PloomesHook(), "Contacts", select=["Id"]) for r in page.records]

        ids = [contact["Id"] for contact in sim.admin.truth_contacts()]
        assert max(read) <= ids[-1]  # nothing past the highest Id when the read began
        assert len(api_log(sim, "/Contacts")) <= (ids[-1] - ids[0]) // 10 + 3

    def test_a_good_read_without_a_count_reads_everything_once(self, connect: Connect,
                                                              sim: RunningSimulator) -> None:
        connect(page_size=100, max_in_flight=1)
        sim.admin.configure(count_supported=False)

        ids = [r["Id"] for page in read_pages(PloomesHook(), "Deals", select=["Id"]) for r in page.records]

        assert sorted(ids) == truth_ids(sim) and len(ids) == len(set(ids))

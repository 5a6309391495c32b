"""One read of a list through the hook (:func:`ploomes_sync.api.reader.read_pages`), against the
simulator over real HTTP: pages handed over as they come, Id ranges read side by side, nothing lost
or read twice while the list changes, a caller that stops cancels at once."""

from __future__ import annotations

import gc
import time
import tracemalloc
import weakref
from collections.abc import Callable
from typing import Any

import pytest

from ploomes_simulator import RunningSimulator
from ploomes_sync.api.paging import KeysetPaginator
from ploomes_sync.api.reader import Page, Partition, read_pages
from ploomes_sync.hooks.ploomes import PloomesHook, ReadClock
from tests.support.simulated_api import OUT_OF_WINDOW, WINDOW, api_log, truth_ids, wait_for

Connect = Callable[..., None]  # the connect fixture of conftest.py


def client_memory() -> int:
    """Bytes traced outside the simulator's threads (it runs in this process)."""
    gc.collect()
    snapshot = tracemalloc.take_snapshot().filter_traces(
        [tracemalloc.Filter(False, "*ploomes_simulator*", all_frames=True)]
    )
    return sum(stat.size for stat in snapshot.statistics("filename"))


def read_records(hook: PloomesHook, endpoint: str = "Deals", **kwargs: Any) -> list[dict[str, Any]]:
    return [record for page in read_pages(hook, endpoint, **kwargs) for record in page.records]


def read_ids(hook: PloomesHook, endpoint: str = "Deals", **kwargs: Any) -> list[int]:
    return [record["Id"] for record in read_records(hook, endpoint, **kwargs)]


class TestPages:
    """Pages reach the caller one at a time, and nothing of a page it moved past is kept."""

    def test_pages_are_numbered_in_arrival_order_with_their_last_id(self, connect: Connect,
                                                                    sim: RunningSimulator) -> None:
        connect(page_size=7, max_in_flight=1)

        pages = list(read_pages(PloomesHook(), "Deals", select=["Id"]))

        assert all(isinstance(page, Page) for page in pages)
        assert [page.number for page in pages] == list(range(1, 101))
        assert all(page.last_id == page.records[-1]["Id"] for page in pages)
        assert [record["Id"] for page in pages for record in page.records] == truth_ids(sim)

    def test_a_page_size_above_300_is_clamped_to_300(self, connect: Connect, sim: RunningSimulator) -> None:
        connect(page_size=1000)
        hook = PloomesHook()

        ids = read_ids(hook, select="Id")

        assert sorted(ids) == truth_ids(sim)  # (the highest page arrives alongside page 1)
        assert {entry["query"]["$top"] for entry in api_log(sim, "/Deals")} == {"300"}

    def test_the_next_page_is_read_while_the_caller_works_on_this_one_and_no_further(
        self, connect: Connect, sim: RunningSimulator
    ) -> None:
        connect(page_size=7, max_in_flight=1)
        pages = read_pages(PloomesHook(), "Deals")
        first = next(pages)

        deadline = time.monotonic() + 10
        while len(api_log(sim, "/Deals")) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)  # the caller is "working" on the first page
        log = api_log(sim, "/Deals")
        assert len(log) == 2 and log[1]["query"]["$filter"] == f"Id gt {first.last_id}"
        time.sleep(0.2)
        assert len(api_log(sim, "/Deals")) == 2  # one page ahead, never more
        pages.close()

    def test_the_iterator_keeps_no_page_it_has_moved_past(self, connect: Connect) -> None:
        connect(page_size=7, max_in_flight=1)
        pages = read_pages(PloomesHook(), "Deals")
        first = next(pages)
        assert len(first.records) == 7
        gone = weakref.ref(first)
        del first

        next(pages)
        gc.collect()

        assert gone() is None
        pages.close()

    def test_memory_stays_flat_however_many_pages(self, connect: Connect) -> None:
        connect(page_size=20, max_in_flight=1)  # (side by side, at most max_in_flight pages more are held)
        hook = PloomesHook()
        list(read_pages(hook, "Deals"))  # warm up: session, logging, the simulator's caches
        tracemalloc.start(10)
        try:
            sizes = []
            for page in read_pages(hook, "Deals"):
                if page.number in (5, 34):
                    sizes.append(client_memory())
            retained = [page.records for page in read_pages(hook, "Deals")]  # what keeping them costs
            every_record = client_memory() - sizes[1]
        finally:
            tracemalloc.stop()

        assert sum(len(records) for records in retained) == 700
        growth = sizes[1] - sizes[0]  # across 29 pages (580 records)
        assert growth < every_record / 10, (growth, every_record)


class TestParallelRead:
    """Large reads cut into Id ranges read side by side; a caller that stops cancels at once."""

    def test_at_no_latency_a_read_stays_in_one_range_and_wastes_no_request(self, connect: Connect,
                                                                          sim: RunningSimulator) -> None:
        connect(page_size=20, max_in_flight=4, requests_per_minute=600)  # 0.1 s apart, answers in ms

        ids = read_ids(PloomesHook(), select=["Id"])

        assert ids == truth_ids(sim)  # in Id order: one range
        assert len(api_log(sim, "/Deals")) == 35  # 700 / 20 pages, no probe, no partial range ends

    def test_a_large_read_keeps_requests_in_flight_across_id_ranges(self, connect: Connect,
                                                                     sim: RunningSimulator) -> None:
        connect(page_size=20, max_in_flight=4)
        sim.admin.configure(latency_seconds=0.1)
        hook = PloomesHook()

        ids = sorted(read_ids(hook, select=["Id"]))

        assert ids == truth_ids(sim)  # every deal, once
        log = api_log(sim, "/Deals")
        spans = [(entry["t"], entry["answered"]) for entry in log]
        in_flight = max(sum(1 for start, end in spans if start <= t < end) for t, _ in spans)
        assert in_flight >= 3, f"at most {in_flight} requests in flight"
        pages = [entry["query"] for entry in log if entry["query"].get("$orderby") == "Id"]
        starts = [query for query in pages if "$skip" in query]  # a range's first page, by position
        assert 1 <= len(starts) <= 3 and len({query["$skip"] for query in starts}) == len(starts)
        assert sum(1 for query in pages if " le " in query.get("$filter", "")) >= 2  # bounded Id ranges
        assert all("$skip" not in query for query in pages if " le " in query.get("$filter", ""))
        assert [entry["query"].get("$orderby") for entry in log].count("Id desc") == 1  # the highest page
        # whole pages, and at most one request a range (4 at most) to learn where it ends: how many such
        # requests depends on when each answer comes, which a busy machine decides
        assert len(log) <= 700 / 20 + 1 + 4

    def test_a_read_whose_answers_slow_down_after_page_1_adds_ranges(self, connect: Connect,
                                                                     sim: RunningSimulator) -> None:
        connect(page_size=20, max_in_flight=4, requests_per_minute=600)  # 0.1 s apart
        hook = PloomesHook()
        pages = read_pages(hook, "Deals", select=["Id"])
        first = next(pages)  # answered at once: one range looks enough
        sim.admin.configure(latency_seconds=0.3)  # from now on, 3 requests in flight hold the rate

        ids = sorted([record["Id"] for record in first.records]
                     + [record["Id"] for page in pages for record in page.records])

        assert ids == truth_ids(sim)  # every deal, once
        spans = [(entry["t"], entry["answered"]) for entry in api_log(sim, "/Deals")]
        in_flight = max(sum(1 for start, end in spans if start <= t < end) for t, _ in spans)
        assert in_flight >= 3, f"at most {in_flight} requests in flight"

    def test_records_changed_or_deleted_during_a_parallel_read_are_not_lost(self, connect: Connect,
                                                                           sim: RunningSimulator) -> None:
        connect(page_size=20, max_in_flight=4)
        sim.admin.configure(latency_seconds=0.02)
        before = truth_ids(sim)
        moved: set[int] = set()
        deleted: set[int] = set()
        seen: list[int] = []

        for number, page in enumerate(read_pages(PloomesHook(), "Deals", filter=WINDOW, select=["Id"]),
                                       start=1):
            seen += [record["Id"] for record in page.records]
            for deal_id in seen[-3:]:
                if deal_id not in moved and deal_id not in deleted:
                    sim.admin.update_deal(deal_id, LastUpdateDate=OUT_OF_WINDOW)
                    moved.add(deal_id)
            deleted.update(sim.admin.mutate(deletes=2, seed=number)["deleted"])

        assert len(seen) == len(set(seen))
        assert {d for d in before if d not in moved and d not in deleted} <= set(seen)

    def test_a_caller_that_stops_cancels_the_read_and_waits_for_nothing(self, connect: Connect,
                                                                       sim: RunningSimulator) -> None:
        connect(page_size=20, max_in_flight=4, timeout=30)
        sim.admin.configure(slow_seconds=3.0, latency_seconds=0.05)  # enough latency to read 4 ranges at once
        sim.admin.set_faults(schedule=[{"kind": "slow", "count": 100, "after": 3, "path": "/Deals"}])
        pages = read_pages(PloomesHook(), "Deals", select=["Id"])

        def slow_ones_sent() -> bool:  # the schedule counts a slow answer down when its request arrives
            return sim.admin.faults()["schedule"][0]["count"] < 100

        with pytest.raises(RuntimeError, match="COPY failed"):
            for page in pages:
                if page.number == 2:
                    # page 2 can come before the ranges send anything: stop once slow ones are out
                    wait_for(slow_ones_sent)
                    raise RuntimeError("COPY failed")  # the consumer (the staging) fails
        pages.close()
        answered_when_stopped = len(api_log(sim, "/Deals"))  # the simulator logs a request once answered

        # the slow answers still in flight arrive later: the caller did not wait for them ...
        assert wait_for(lambda: len(api_log(sim, "/Deals")) > answered_when_stopped, timeout=10)
        # ... and nothing new was asked after it stopped
        time.sleep(0.5)
        assert len(api_log(sim, "/Deals")) <= answered_when_stopped + 4  # only the ones already in flight

    @pytest.mark.parametrize("count_supported", [True, False])
    def test_records_created_and_deleted_during_a_whole_list_read_are_read_once(
            self, connect: Connect, sim: RunningSimulator, count_supported: bool) -> None:
        # A whole list: page 1, the highest page and ranges that start by position (by Id without
        # $count), while deals come and go (new ones get the highest Ids, deletions shift every
        # position past them).
        connect(page_size=20, max_in_flight=4)
        sim.admin.configure(latency_seconds=0.05, count_supported=count_supported)
        before = set(truth_ids(sim))
        deleted: set[int] = set()
        seen: list[int] = []

        for number, page in enumerate(read_pages(PloomesHook(), "Deals", select=["Id"]), start=1):
            seen += [record["Id"] for record in page.records]
            changed = sim.admin.mutate(deletes=3, creates=2, seed=number)
            deleted.update(changed["deleted"])

        assert len(seen) == len(set(seen))  # nothing read twice
        assert before - deleted <= set(seen)  # nothing that was there all along is lost
        log = api_log(sim, "/Deals")
        assert any("$skip" in entry["query"] for entry in log) is count_supported
        assert [entry["query"].get("$top") for entry in log if entry["query"].get("$orderby") == "Id desc"] == ["20"]
        assert sum(1 for entry in log if " le " in entry["query"].get("$filter", "")) >= 2  # bounded Id ranges

    @pytest.mark.parametrize("ignored", ["$skip", "$orderby", "$skip,$orderby"])
    def test_an_api_that_ignores_offsets_or_order_still_loses_nothing(
            self, connect: Connect, sim: RunningSimulator, ignored: str) -> None:
        # Offsets only place where a range begins and the highest page is used only in descending
        # order: an API that ignores either costs requests, never records.
        connect(page_size=20, max_in_flight=4)
        sim.admin.configure(latency_seconds=0.05, ignored_options=ignored)

        ids = read_ids(PloomesHook(), select=["Id"])

        assert len(ids) == len(set(ids))
        assert sorted(ids) == truth_ids(sim)

    def test_an_api_that_refuses_offsets_reads_on_in_fewer_ranges(self, connect: Connect,
                                                                  sim: RunningSimulator) -> None:
        connect(page_size=20, max_in_flight=4)
        sim.admin.configure(latency_seconds=0.05, refused_options="$skip")

        ids = read_ids(PloomesHook(), select=["Id"])

        assert sorted(ids) == truth_ids(sim) and len(ids) == len(set(ids))
        assert 400 in [entry["status"] for entry in api_log(sim, "/Deals")]

    def test_a_record_updated_into_a_filtered_read_does_not_push_another_out_of_it(
            self, connect: Connect, sim: RunningSimulator) -> None:
        # Under a filter, @odata.count can't end a range: a deal updated into the window during the
        # read takes a place the count had given to one already there. 60 deals in the window and
        # pages of 20: were the count to end the range, the 61st Id (in the window all along) would
        # never be asked for. (Page 2 is read while the caller has page 1, page 3 after.)
        connect(page_size=20, max_in_flight=1)
        deals = truth_ids(sim)[:61]
        back = deals[50]
        sim.admin.update_deal(back, LastUpdateDate=OUT_OF_WINDOW)  # out of the window when counted ...
        seen: list[int] = []

        for page in read_pages(PloomesHook(), "Deals", filter=WINDOW, select=["Id"], upto=deals[-1]):
            seen += [record["Id"] for record in page.records]
            if page.number == 1:  # ... and back in it before page 3 is read
                sim.admin.update_deal(back, LastUpdateDate="2020-01-01T00:00:00-03:00")

        assert sorted(seen) == deals

    def test_the_reads_start_on_ploomes_clock_precedes_the_answer_that_came_first(
            self, connect: Connect, sim: RunningSimulator) -> None:
        # Page 1 is slow, so the highest page answers first: the read's start on Ploomes' clock is
        # taken from that answer's Date less the time it took, not from its Date.
        connect(page_size=300, max_in_flight=4, timeout=30)
        sim.admin.configure(latency_seconds=1.0, slow_seconds=2.5)
        sim.admin.set_faults(schedule=[{"kind": "slow", "count": 1, "path": "/Deals"}])
        clock = ReadClock()  # the sync's, handed to the read: the hook keeps no clock of its own

        ids = read_ids(PloomesHook(), select=["Id"], clock=clock)

        assert sorted(ids) == truth_ids(sim)
        log = api_log(sim, "/Deals")
        first_answered = min(log, key=lambda entry: entry["answered"])
        assert first_answered["query"].get("$orderby") == "Id desc"
        assert clock.asked_at is not None and clock.answered_at is not None
        assert clock.asked_at.timestamp() <= first_answered["t"] + 0.01
        assert clock.answered_at.timestamp() >= max(entry["answered"] for entry in log) - 1  # whole seconds


class TestPartition:
    """How the Ids of one read are shared among its ranges (``ploomes_sync.api.reader.Partition``)."""

    @staticmethod
    def partition(pages_left: float) -> tuple[Partition, KeysetPaginator]:
        """One range past Id 1,000 of a list with a record every Id, ``pages_left`` pages of 300 to go."""
        first = KeysetPaginator(300, after=1_000, upto=1_000 + int(pages_left * 300))
        ids = Partition(first)
        ids.density = 1.0
        return ids, first

    def test_a_thread_whose_range_ended_takes_the_upper_half_of_one_of_two_pages(self) -> None:
        # the last pages of a read are not left to be read an answer apart
        ids, first = self.partition(2.5)

        stolen = ids.steal()

        assert stolen is not None and stolen.after == first.upto == 1_375 and stolen.upto == 1_750
        assert ids.active == [first, stolen] and ids.ranges == [first, stolen]

    def test_a_range_of_less_than_two_pages_is_left_whole(self) -> None:
        ids, first = self.partition(1.9)

        assert ids.steal() is None and first.upto == 1_570

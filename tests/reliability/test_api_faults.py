"""Storms of 429 (with and without ``Retry-After``), bursts of 5xx, dropped connections, timeouts and
malformed pages, injected by the simulator over HTTP in the middle of a run's paging.

A storm within the retry budget: the run completes and the warehouse equals the truth. A storm
beyond it: the run fails with :class:`PloomesRequestError` naming the request and the last
failure, nothing of it is visible in ``public``, no watermark moved, and once the API behaves the
next run converges. Without the hook's retry policy every "survives" case fails; without its
bound, every "gives up" case hangs or hides the cause.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from ploomes_devkit.pipeline import Pipeline
from ploomes_simulator import RunningSimulator
from ploomes_sync.api.errors import PloomesRequestError
from ploomes_sync.hooks.ploomes import PloomesHook
from tests.reliability.conftest import Connect
from tests.reliability.harness import CONFIG, assert_unchanged, run_fails, run_ok, snapshot


def _injected(sim: RunningSimulator) -> Counter[str]:
    """How many requests got each fault."""
    return Counter(entry["fault"] for entry in sim.admin.requests() if entry["fault"])


def _recording_pipeline(db_url: str) -> tuple[Pipeline, list[PloomesHook]]:
    hooks: list[PloomesHook] = []

    def factory(**arguments: Any) -> PloomesHook:
        hooks.append(PloomesHook(**arguments))
        return hooks[-1]

    return Pipeline(db_url, hook_factory=factory, config=CONFIG), hooks


def _baseline(sim: RunningSimulator, pipeline: Pipeline, db_url: str) -> None:
    """A first full run, then changes for the next run to pick up (updates, deletions, new deals)."""
    run_ok(pipeline, db_url, sim.admin, "baseline")
    sim.admin.mutate(updates=40, deletes=5, creates=10, seed=11)
    sim.admin.clear_requests()


SURVIVABLE: dict[str, tuple[dict[str, Any], list[dict[str, Any]], dict[str, Any]]] = {
    # name: (simulator settings, fault schedule, connection extras)
    "429s-with-retry-after": ({"retry_after": True},
                              [{"kind": "429", "count": 2, "after": 2, "path": "/Deals"}], {}),
    # more 429s in a row than max_attempts: 429s are bounded by time waited, not by attempts
    "429-storm-without-retry-after": ({"retry_after": False},
                                      [{"kind": "429", "count": 12, "after": 1, "path": "/Deals"},
                                       {"kind": "429", "count": 6, "path": "/Contacts"}], {}),
    # (an entry's "after" counts every matching request, faulted or not: the bursts do not touch)
    "5xx-bursts": ({}, [{"kind": "503", "count": 3, "after": 2, "path": "/Deals"},
                        {"kind": "500", "count": 1, "path": "/Account"},
                        {"kind": "502", "count": 2, "path": "/Contacts"},
                        {"kind": "504", "count": 3, "after": 12, "path": "/Deals"}], {}),
    "dropped-connections": ({}, [{"kind": "drop", "count": 3, "after": 2, "path": "/Deals"},
                                 {"kind": "drop", "count": 1, "path": "/Contacts"}], {}),
    "malformed-pages": ({}, [{"kind": "malformed", "count": 3, "after": 1, "path": "/Deals"},
                             {"kind": "malformed", "count": 2, "path": "/Contacts"}], {}),
    # a timeout well above what a loaded machine's in-process API takes, well below the slow answer
    "read-timeout": ({"slow_seconds": 4.0}, [{"kind": "slow", "count": 1, "after": 2, "path": "/Deals"}],
                     {"timeout": 2.0}),
}


@pytest.mark.parametrize("name", list(SURVIVABLE))
def test_storm_within_the_retry_budget_completes_and_converges(
    name: str, sim: RunningSimulator, db_url: str, connect: Connect
) -> None:
    settings, schedule, extras = SURVIVABLE[name]
    connect(**extras)
    pipeline, hooks = _recording_pipeline(db_url)
    _baseline(sim, pipeline, db_url)
    sim.admin.configure(**settings)
    sim.admin.set_faults(schedule=schedule)

    run = run_ok(pipeline, db_url, sim.admin, "through-the-storm")

    assert all(entry["count"] == 0 for entry in sim.admin.faults()["schedule"]), "a fault was never served"
    expected = Counter()
    for entry in schedule:
        expected[entry["kind"]] += entry["count"]
    if "slow" not in expected:  # a slow answer is logged once served, after the client gave up on it
        assert _injected(sim) == expected
    throttled = expected["429"]
    assert run.api_throttled == throttled
    if name == "429s-with-retry-after":
        # the simulator's injected 429 asks for 1 s: the hook waited what it was told, not its backoff
        assert sum(hook.stats.backoff_wait_seconds for hook in hooks) >= 2.0
    assert sum(hook.stats.retries for hook in hooks) == sum(expected.values())


FATAL: dict[str, tuple[dict[str, Any], list[dict[str, Any]], dict[str, Any], tuple[str, ...]]] = {
    # name: (simulator settings, fault schedule, connection extras, words the error must say)
    "5xx-beyond-max-attempts": ({}, [{"kind": "503", "count": 50, "after": 2, "path": "/Deals"}], {},
                                ("gave up after 4 attempts", "status 503", "/Deals")),
    "connection-keeps-dropping": ({}, [{"kind": "drop", "count": 50, "after": 2, "path": "/Deals"}], {},
                                  ("gave up after 4 attempts", "connection failed or dropped", "/Deals")),
    "pages-keep-coming-malformed": ({}, [{"kind": "malformed", "count": 50, "after": 2, "path": "/Deals"}],
                                    {}, ("gave up after 4 attempts", "invalid body", "not JSON", "/Deals")),
    "429s-beyond-max-throttle-wait": ({"retry_after": True},
                                      [{"kind": "429", "count": 50, "after": 2, "path": "/Deals"}],
                                      {"max_throttle_wait": 1.5},
                                      ("429 Too Many Requests", "Retry-After 1 s", "max_throttle_wait", "/Deals")),
}


@pytest.mark.parametrize("name", list(FATAL))
def test_storm_beyond_the_budget_fails_saying_why_and_writes_nothing(
    name: str, sim: RunningSimulator, db_url: str, connect: Connect, pipeline: Pipeline
) -> None:
    settings, schedule, extras, words = FATAL[name]
    connect(**extras)
    _baseline(sim, pipeline, db_url)
    before = snapshot(db_url)
    sim.admin.configure(**settings)
    sim.admin.set_faults(schedule=schedule)

    failure = run_fails(pipeline, "storm", PloomesRequestError)

    message = str(failure.value)
    for word in words:
        assert word in message, f"{word!r} not in {message!r}"
    assert _injected(sim), "no fault was served"
    assert_unchanged(db_url, before)

    sim.admin.clear_faults()
    sim.admin.configure(retry_after=True)
    connect()
    run_ok(pipeline, db_url, sim.admin, "after-the-storm")

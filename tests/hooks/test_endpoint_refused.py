"""A 403 on one endpoint while the key works elsewhere is that endpoint's, not the key's.

Ploomes answers 403 for a refused key and for an integration user without a module's permission
alike; the hook tells them apart with one key check (``GET /Account``) and never asks a refused
endpoint, or with a refused key, again.
"""

from __future__ import annotations

import pytest

from ploomes_simulator import RunningSimulator
from ploomes_sync.api.errors import PloomesAuthError, PloomesEndpointForbidden
from ploomes_sync.hooks.ploomes import PloomesHook
from tests.hooks.conftest import Connect


def refused(sim: RunningSimulator) -> list[str]:
    return [entry["path"] for entry in sim.admin.requests() if entry["status"] == 403]


def test_a_refused_endpoint_names_itself_and_the_others_go_on(connect: Connect, sim: RunningSimulator) -> None:
    connect()
    sim.admin.configure(forbidden_paths="/Orders,/Quotes")
    sim.admin.clear_requests()
    hook = PloomesHook()

    with pytest.raises(PloomesEndpointForbidden) as raised:
        hook.fetch("Orders", {"$top": "1"})

    message = str(raised.value)
    assert raised.value.endpoint == "Orders" and "/Orders" in message and "answered 403" in message
    assert "permission" in message and "Not retried" in message
    assert not isinstance(raised.value, PloomesAuthError), "the key was not refused"
    assert [e["path"] for e in sim.admin.requests()] == ["/Orders", "/Account"]  # one key check told them apart
    assert hook.fetch("Deals", {"$top": "1"})["value"], "the key still works elsewhere"
    with pytest.raises(PloomesEndpointForbidden):
        hook.fetch("Orders", {"$top": "1"})
    assert refused(sim) == ["/Orders"], "a refused endpoint is not asked again"


def test_a_refused_key_is_still_the_keys_and_nothing_more_is_sent(connect: Connect, sim: RunningSimulator) -> None:
    connect()
    sim.admin.configure(api_key="another-key-entirely-0000")
    sim.admin.clear_requests()
    hook = PloomesHook()

    with pytest.raises(PloomesAuthError) as raised:
        hook.fetch("Orders", {"$top": "1"})

    assert "rejected the User-Key" in str(raised.value)
    with pytest.raises(PloomesAuthError):
        hook.fetch("Deals", {"$top": "1"})
    assert refused(sim) == ["/Orders", "/Account"]  # the key check that told, and nothing after it


def test_an_endpoint_the_account_does_not_have_is_refused_without_a_key_check(
        connect: Connect, sim: RunningSimulator) -> None:
    connect()
    sim.admin.clear_requests()
    with pytest.raises(PloomesEndpointForbidden) as raised:
        PloomesHook().fetch("Teams@Nonexistent", {"$top": "1"})
    assert raised.value.status == 404 and "does not have /Teams@Nonexistent" in str(raised.value)
    assert [e["path"] for e in sim.admin.requests()] == ["/Teams@Nonexistent"]

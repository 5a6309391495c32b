"""ploomes_webhook_setup's work against the simulator: one webhook per action of each stream that has
webhooks (Win and Lose for deals alone), read from /Webhooks@Actions; idempotent; a rotated key
replaces them; a param removes them; the quotes' EntityId is the configured one."""

from __future__ import annotations

import json

import pytest

from ploomes_sync.hooks.ploomes import PloomesHook
from ploomes_sync.streams import registry
from ploomes_sync.webhooks import registration
from ploomes_sync.webhooks.registration import WebhookSetupError
from tests.webhooks.conftest import WEBHOOK_KEY, WebhookStack

DEALS, CONTACTS, ORDERS, QUOTES, PRODUCTS = 2, 1, 4, 7, 10
ALL = 17  # Create, Update and Delete of contacts, products, quotes and orders; those and Win, Lose of deals


def registered_pairs(stack: WebhookStack) -> list[tuple[int, int, str, str]]:
    return sorted((w["EntityId"], w["ActionId"], w["CallbackUrl"], w["ValidationKey"])
                  for w in stack.sim.admin.webhooks())


def test_every_action_of_deals_and_contacts_is_registered_once(stack: WebhookStack):
    url, key = registration.receiver_settings()
    assert url == f"{stack.receiver.url}/ploomes-sync/webhooks" and key == WEBHOOK_KEY
    first = registration.register(PloomesHook(), url, key)
    crud = ("Create", "Update", "Delete")
    assert sorted(first.created) == sorted(["deals/Win", "deals/Lose", *(f"{stream}/{action}" for action in crud
                                            for stream in ("deals", "contacts", "orders", "quotes", "products"))])
    pairs = registered_pairs(stack)
    assert [(e, a) for e, a, *_ in pairs] == [(CONTACTS, 1), (CONTACTS, 2), (CONTACTS, 3),
                                              (DEALS, 1), (DEALS, 2), (DEALS, 3), (DEALS, 4), (DEALS, 5),
                                              (ORDERS, 1), (ORDERS, 2), (ORDERS, 3), (QUOTES, 1), (QUOTES, 2),
                                              (QUOTES, 3), (PRODUCTS, 1), (PRODUCTS, 2), (PRODUCTS, 3)]
    assert {(u, k) for *_, u, k in pairs} == {(url, key)}

    again = registration.register(PloomesHook(), url, key)
    assert (again.created, again.replaced, again.removed, len(again.kept)) == ([], [], [], ALL)
    assert registered_pairs(stack) == pairs, "running it again created no duplicates"


def test_a_rotated_key_replaces_the_webhooks_and_duplicates_are_removed(stack: WebhookStack):
    url, key = registration.receiver_settings()
    registration.register(PloomesHook(), url, "an-older-key-0123456789")
    hook = PloomesHook()
    hook.write("POST", "Webhooks", {"EntityId": DEALS, "ActionId": 2, "CallbackUrl": url, "ValidationKey": key})
    other = {"EntityId": DEALS, "ActionId": 2, "CallbackUrl": "https://another.app/hook", "ValidationKey": "x"}
    hook.write("POST", "Webhooks", other)

    setup = registration.register(PloomesHook(), url, key)
    # deals/Update had one webhook with the old key and one with the new: the new one is kept
    assert len(setup.replaced) == ALL - 1 and setup.removed == ["deals/Update"] and setup.kept == ["deals/Update"]
    ours = [p for p in registered_pairs(stack) if p[2] == url]
    assert len(ours) == ALL and {k for *_, k in ours} == {key}
    assert any(p[2] == "https://another.app/hook" for p in registered_pairs(stack)), "others' webhooks are kept"


def test_remove_deletes_only_ours(stack: WebhookStack):
    url, key = registration.receiver_settings()
    registration.register(PloomesHook(), url, key)
    PloomesHook().write("POST", "Webhooks", {"EntityId": DEALS, "ActionId": 2,
                                             "CallbackUrl": "https://another.app/hook", "ValidationKey": "x"})
    removed = registration.remove(PloomesHook(), url)
    assert len(removed.removed) == ALL
    assert [p[2] for p in registered_pairs(stack)] == ["https://another.app/hook"]


def test_the_quotes_entity_id_is_the_configured_one(stack: WebhookStack):
    url, key = registration.receiver_settings()
    setup = registration.register(PloomesHook(), url, key, registry(quote_entity_id=12))
    assert {e for e, *_ in registered_pairs(stack)} == {CONTACTS, DEALS, ORDERS, 12, PRODUCTS}
    assert "quotes/Create" in setup.created


def test_a_refused_registration_fails_clearly(stack: WebhookStack):
    url, key = registration.receiver_settings()
    stack.sim.admin.configure(api_key="revoked-key-000000")
    with pytest.raises(Exception) as raised:
        registration.register(PloomesHook(), url, key)
    assert "User-Key" in str(raised.value) and "403" in str(raised.value)


def test_a_webhook_ploomes_refuses_names_it(stack: WebhookStack):
    refused = "Ploomes refused to register the webhook contacts/Create: .*POST .*Invalid CallbackUrl"
    with pytest.raises(WebhookSetupError, match=refused):
        registration.register(PloomesHook(), "ftp://not-a-url", WEBHOOK_KEY)


@pytest.mark.parametrize(("connection", "message"), [
    (None, "does not exist"),
    ({"conn_type": "http", "password": WEBHOOK_KEY}, "has no host"),
    ({"conn_type": "http", "host": "https://x.example", "password": "short"}, "at least 16 characters"),
])
def test_the_webhook_connection_is_checked_before_calling_ploomes(monkeypatch, connection, message):
    if connection is None:
        monkeypatch.delenv("AIRFLOW_CONN_PLOOMES_WEBHOOK", raising=False)
    else:
        monkeypatch.setenv("AIRFLOW_CONN_PLOOMES_WEBHOOK", json.dumps(connection))
    with pytest.raises(WebhookSetupError, match=message):
        registration.receiver_settings()


def test_a_host_without_a_scheme_gets_https(monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_PLOOMES_WEBHOOK", json.dumps(
        {"conn_type": "http", "host": "airflow.example.com", "password": WEBHOOK_KEY}))
    assert registration.receiver_settings()[0] == "https://airflow.example.com/ploomes-sync/webhooks"


def test_actions_come_from_the_api_by_name():
    actions = [{"Id": 11, "Name": "Criar"}, {"Id": 14, "Name": "Ganho"}, {"Id": 19, "Name": "Reabrir"}]
    others = {(entity, action): f"{name}/{label}" for entity, name in ((ORDERS, "orders"), (QUOTES, "quotes"),
                                                                      (PRODUCTS, "products"))
              for action, label in ((11, "Criar"), (19, "Reabrir"))}
    assert registration.wanted(actions) == {
        (CONTACTS, 11): "contacts/Criar", (CONTACTS, 19): "contacts/Reabrir",
        (DEALS, 11): "deals/Criar", (DEALS, 14): "deals/Ganho", (DEALS, 19): "deals/Reabrir", **others}
    scoped = [{"Id": 4, "Name": "Win", "EntityId": DEALS}, {"Id": 2, "Name": "Update"}]
    assert set(registration.wanted(scoped)) == {(DEALS, 4), (DEALS, 2), (CONTACTS, 2), (ORDERS, 2), (QUOTES, 2),
                                                (PRODUCTS, 2)}

"""PloomesHook against the simulator, over real HTTP (nothing of HTTP is mocked)."""

from __future__ import annotations

import base64
import logging
import math
import threading
from collections.abc import Callable
from typing import Any

import pytest
from airflow.providers.common.compat.sdk import AirflowFailException
from airflow.providers.http.hooks.http import HttpHook
from airflow.sdk import BaseHook

from ploomes_simulator import RunningSimulator
from ploomes_sync import settings
from ploomes_sync.api.errors import (
    PloomesAuthError,
    PloomesBadRequestError,
    PloomesError,
    PloomesRequestError,
    PloomesServerError,
)
from ploomes_sync.api.reader import read_pages
from ploomes_sync.hooks.ploomes import PloomesHook, RequestStats
from tests.support.pacing import most_in_any_window
from tests.support.simulated_api import OUT_OF_WINDOW, WINDOW, api_log, truth_ids, wait_for

Connect = Callable[..., None]  # the connect fixture of conftest.py


def read_records(hook: PloomesHook, endpoint: str = "Deals", **kwargs: Any) -> list[dict[str, Any]]:
    return [record for records in hook.paginate(endpoint, **kwargs) for record in records]


def read_ids(hook: PloomesHook, endpoint: str = "Deals", **kwargs: Any) -> list[int]:
    return [record["Id"] for record in read_records(hook, endpoint, **kwargs)]


class TestPloomesHook:
    # --- identity and connection ------------------------------------------------------------

    def test_declares_the_ploomes_connection_type(self) -> None:
        # A BaseHook with a session of its own: HttpHook would send the Ploomes options as headers.
        assert issubclass(PloomesHook, BaseHook) and not issubclass(PloomesHook, HttpHook)
        assert PloomesHook.conn_name_attr == "ploomes_conn_id"
        assert PloomesHook.default_conn_name == "ploomes_default"
        assert PloomesHook.conn_type == "ploomes"
        assert PloomesHook.hook_name == "Ploomes"

    def test_init_only_stores_arguments(self, monkeypatch: pytest.MonkeyPatch, sim: RunningSimulator) -> None:
        monkeypatch.delenv("AIRFLOW_CONN_PLOOMES_DEFAULT", raising=False)
        hook = PloomesHook(ploomes_conn_id="not_defined_anywhere", page_size=7)  # no lookup: no error
        pages = hook.paginate("Deals")  # a generator: nothing happens until a page is asked for

        assert hook.ploomes_conn_id == "not_defined_anywhere"
        assert hook.stats == RequestStats()
        assert api_log(sim) == []
        pages.close()
        with pytest.raises(Exception, match="not_defined_anywhere"):  # the connection is read on first use
            hook.options  # noqa: B018

    def test_json_connection_from_the_environment_resolves_outside_a_task(
        self, connect: Connect, sim: RunningSimulator, api_key: str
    ) -> None:
        connect(page_size=40, requests_per_minute=90, max_attempts=2)
        hook = PloomesHook()

        session = hook.get_conn()

        assert hook.base_url == sim.url
        assert session.headers[settings.USER_KEY_HEADER] == api_key
        assert session.auth is None
        options = hook.options
        assert options is not None
        assert (options.page_size, options.requests_per_minute, options.max_attempts) == (40, 90, 2)
        assert options.backoff_base == 0.01  # conftest.FAST_EXTRAS
        # the Ploomes options are not sent as headers (HttpHook sends unknown extras as headers)
        assert not {"page_size", "requests_per_minute", "max_attempts"} & {h.lower() for h in session.headers}

    def test_constructor_arguments_win_over_extras(self, connect: Connect) -> None:
        connect(page_size=40, requests_per_minute=90)
        hook = PloomesHook(page_size=7, requests_per_minute=6000, timeout=3)

        hook.get_conn()

        options = hook.options
        assert options is not None
        assert (options.page_size, options.requests_per_minute, options.timeout) == (7, 6000, 3)

    def test_defaults_come_from_settings(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("AIRFLOW_CONN_PLOOMES_DEFAULT", '{"conn_type": "ploomes", "password": "x"}')
        hook = PloomesHook()

        hook.get_conn()

        assert hook.base_url == settings.DEFAULT_BASE_URL
        assert hook.options is not None
        assert hook.options.page_size == settings.DEFAULT_PAGE_SIZE == 300
        assert hook.options.expanded_page_size == settings.DEFAULT_EXPANDED_PAGE_SIZE == 300
        assert hook.options.requests_per_minute == settings.DEFAULT_REQUESTS_PER_MINUTE == 120
        assert hook.options.max_throttle_wait == settings.DEFAULT_MAX_THROTTLE_WAIT_SECONDS

    def test_an_invalid_extra_names_itself_and_the_connection(self, connect: Connect) -> None:
        connect(page_size="lots")

        with pytest.raises(ValueError, match=r"extra 'page_size' of connection 'ploomes_default'"):
            PloomesHook().get_conn()

    def test_the_connection_form_relabels_the_key_field_and_offers_the_extras(self) -> None:
        from airflow.providers_manager import ProvidersManager

        manager = ProvidersManager()
        behaviour = manager.field_behaviours["ploomes"]
        widgets = manager.connection_form_widgets

        assert widgets["extra__ploomes__page_size"].hook_class_name == "ploomes_sync.hooks.ploomes.PloomesHook"
        assert behaviour["relabeling"]["password"] == "API key (User-Key)"
        assert behaviour["placeholders"]["host"] == "https://public-api2.ploomes.com"
        assert "login" in behaviour["hidden_fields"]
        assert widgets["extra__ploomes__page_size"].field["schema"]["maximum"] == 300
        assert widgets["extra__ploomes__requests_per_minute"].field["value"] == 120
        from ploomes_sync.hooks.ploomes import OPTION_NAMES

        assert {f"extra__ploomes__{name}" for name in OPTION_NAMES} <= set(widgets), "every option has a field"

    @pytest.mark.parametrize(("option", "value", "says"), [
        ("max_in_flight", 33, "at most 32"), ("max_in_flight", 0, "at least 1"), ("timeout", 0, "more than 0"),
        ("requests_per_minute", -1, "more than 0"), ("max_attempts", 1.5, "whole number"),
        ("backoff_base", -0.1, "at least 0"), ("trust_env", "maybe", "true or false"),
        ("verify", 5, "a CA bundle's path"), ("expanded_page_size", 9, "at least 10"),
    ])
    def test_options_are_checked_against_the_connection_forms_schema(self, connect: Connect, option, value,
                                                                     says) -> None:
        from ploomes_sync.provider import CONN_FIELDS

        connect()
        assert option in CONN_FIELDS  # the one schema: the form's
        with pytest.raises(ValueError, match=f"argument '{option}' must .*{says}"):
            PloomesHook(**{option: value}).get_conn()

    def test_an_unknown_option_is_refused_by_name(self) -> None:
        with pytest.raises(TypeError, match="pagesize"):
            PloomesHook(pagesize=10)

    # --- the key check and count ----------------------------------------------------------------

    def test_the_key_check_sends_one_cheap_account_request(self, connect: Connect, sim: RunningSimulator) -> None:
        connect()

        PloomesHook().check_key()

        [request] = api_log(sim)
        assert request["path"] == "/Account"
        assert request["query"] == {"$top": "1", "$select": "Id"}
        assert request["status"] == 200

    def test_test_connection_reports_a_rejected_key(self, connect: Connect) -> None:
        connect(password="wrong-key-0000000000")

        ok, message = PloomesHook().test_connection()

        assert ok is False and "403" in message

    def test_count_returns_odata_count_when_the_api_answers_it(
        self, connect: Connect, sim: RunningSimulator
    ) -> None:
        connect()
        won = sum(1 for deal in sim.admin.truth_deals() if deal["StatusId"] == 2)

        assert PloomesHook().count("Deals") == 700
        assert PloomesHook().count("Deals", filter="StatusId eq 2") == won
        assert api_log(sim)[-1]["query"] == {
            "$count": "true",
            "$top": "1",
            "$select": "Id",
            "$filter": "StatusId eq 2",
        }

    def test_count_returns_none_when_the_api_does_not_answer_it(
        self, connect: Connect, sim: RunningSimulator
    ) -> None:
        connect()
        sim.admin.configure(count_supported=False)

        assert PloomesHook().count("Deals") is None

    # --- paging -----------------------------------------------------------------------------

    @pytest.mark.parametrize("page_size", [300, 7])
    def test_pages_cover_every_deal_across_page_boundaries(
        self, connect: Connect, sim: RunningSimulator, page_size: int
    ) -> None:
        connect(page_size=page_size)
        hook = PloomesHook()

        pages = list(hook.paginate("Deals", select=["Id", "Title"]))

        ids = [record["Id"] for page in pages for record in page]
        assert ids == truth_ids(sim)  # all, once each, in Id order
        assert len(pages) == math.ceil(700 / page_size)
        log = api_log(sim, "/Deals")
        assert len(log) == len(pages)  # the first page's @odata.count says when the read is done
        assert log[0]["query"]["$count"] == "true" and all("$count" not in e["query"] for e in log[1:])
        for entry, previous in zip(log[1:], pages, strict=False):
            assert entry["query"]["$filter"] == f"Id gt {previous[-1]['Id']}"
        for entry in log:
            assert entry["query"]["$orderby"] == "Id" and entry["query"]["$top"] == str(page_size)
            assert "$skip" not in entry["query"]
        assert (hook.stats.pages, hook.stats.records, hook.stats.requests) == (len(pages), 700, len(log))

    def test_without_count_a_page_shorter_than_a_full_one_ends_the_read(
        self, connect: Connect, sim: RunningSimulator
    ) -> None:
        connect(page_size=300)
        sim.admin.configure(count_supported=False)

        ids = read_ids(PloomesHook(), select="Id")

        assert ids == truth_ids(sim)
        assert len(api_log(sim, "/Deals")) == 3  # 300, 300, then 100: shorter than a page the API filled

    @pytest.mark.parametrize("count_supported", [True, False])
    def test_a_server_that_silently_cuts_top_loses_nothing(
        self, connect: Connect, sim: RunningSimulator, count_supported: bool
    ) -> None:
        connect()
        sim.admin.configure(max_page_size=100, count_supported=count_supported)  # asked 300, served 100

        ids = read_ids(PloomesHook(), select=["Id"])

        assert ids == truth_ids(sim)
        log = api_log(sim, "/Deals")
        assert {entry["query"]["$top"] for entry in log} == {"300"}
        # With $count the read ends once 700 arrived; without, no page ever held the 300 asked,
        # so a short page proves nothing and only an empty one ends it.
        assert len(log) == (7 if count_supported else 8)

    def test_a_read_keeps_nothing_of_the_one_before(self, connect: Connect, sim: RunningSimulator) -> None:
        connect()
        sim.admin.configure(count_supported=False)
        hook = PloomesHook()
        assert read_ids(hook, select=["Id"]) == truth_ids(sim)  # the API filled pages of 300

        sim.admin.configure(max_page_size=100)  # now it cuts $top to 100, silently

        assert read_ids(hook, select=["Id"]) == truth_ids(sim)  # a page of 100 does not end this read

    def test_filter_select_and_expand_reach_the_api_with_id_added(
        self, connect: Connect, sim: RunningSimulator
    ) -> None:
        connect(page_size=100)
        select = ["Title", "StatusId"]
        won = [deal["Id"] for deal in sim.admin.truth_deals() if deal["StatusId"] == 2]

        records = read_records(PloomesHook(), "Deals", filter="StatusId eq 2", select=select)

        assert [record["Id"] for record in records] == won
        assert all(set(record) == {"Id", "Title", "StatusId"} for record in records)
        assert select == ["Title", "StatusId"]  # the caller's list is left alone
        queries = [entry["query"] for entry in api_log(sim, "/Deals")]
        assert queries[0]["$select"] == "Id,Title,StatusId"
        assert queries[0]["$filter"] == "StatusId eq 2"
        assert queries[1]["$filter"] == f"(StatusId eq 2) and Id gt {won[99]}"

    def test_expand_returns_nested_records(self, connect: Connect, sim: RunningSimulator) -> None:
        connect()

        contacts = read_records(PloomesHook(), "Contacts", select=["Name"], expand="Tags")

        assert [contact["Id"] for contact in contacts] == [c["Id"] for c in sim.admin.truth_contacts()]
        assert all(isinstance(contact["Tags"], list) for contact in contacts)
        assert api_log(sim, "/Contacts")[0]["query"]["$expand"] == "Tags"

    def test_deals_updated_out_of_the_window_while_paging_are_not_lost(
        self, connect: Connect, sim: RunningSimulator
    ) -> None:
        connect(page_size=50)
        before = truth_ids(sim)
        moved: set[int] = set()
        seen: list[int] = []

        for page in PloomesHook().paginate("Deals", filter=WINDOW, select=["Id"]):
            seen += [record["Id"] for record in page]
            # between pages: deals already read leave the window (what shifts $skip offsets),
            # and so do a few not read yet
            unread = [deal_id for deal_id in before if deal_id > page[-1]["Id"] and deal_id not in moved]
            for deal_id in [*seen[-10:], *unread[:3]]:
                if deal_id not in moved:
                    sim.admin.update_deal(deal_id, LastUpdateDate=OUT_OF_WINDOW)
                    moved.add(deal_id)

        assert len(seen) == len(set(seen))
        stayed = [deal_id for deal_id in before if deal_id not in moved]
        assert set(stayed) <= set(seen)  # everything in the window for the whole read was read
        assert len(moved) > 100

    def test_deals_deleted_while_paging_are_not_lost(self, connect: Connect, sim: RunningSimulator) -> None:
        connect(page_size=50)
        before = truth_ids(sim)
        deleted: set[int] = set()
        seen: list[int] = []

        for number, page in enumerate(PloomesHook().paginate("Deals", select=["Id"]), start=1):
            seen += [record["Id"] for record in page]
            deleted.update(sim.admin.mutate(deletes=15, seed=number)["deleted"])

        assert len(seen) == len(set(seen))
        survivors = [deal_id for deal_id in before if deal_id not in deleted]
        assert set(survivors) <= set(seen)
        assert any(deal_id < max(seen) for deal_id in deleted)  # deletions behind the read happened

    # --- authentication ---------------------------------------------------------------------

    def test_403_fails_without_retry_and_names_the_causes(
        self, connect: Connect, sim: RunningSimulator
    ) -> None:
        wrong = "wrong-key-5c1e0a9d7b3f4e2a"
        connect(password=wrong, max_attempts=5)
        hook = PloomesHook()

        with pytest.raises(PloomesAuthError) as raised:
            hook.check_key()

        error = raised.value
        assert isinstance(error, AirflowFailException)
        assert error.status == 403 and error.url.endswith("/Account?$top=1&$select=Id")
        message = str(error)
        assert "403" in message and "User-Key" in message and "rejected" in message
        for cause in (
            "empty or missing key",
            "password",
            "variable",
            "expired",
            "revoked",
            "permission",
            "too heavy",
            "Administração › Integrações › Usuários de integração",
        ):
            assert cause in message
        assert "The User-Key header is missing, wrong or expired" not in message  # a refusal is never quoted
        assert wrong not in message
        assert len(api_log(sim)) == 1 and hook.stats.retries == 0

    def test_a_refusal_that_echoes_the_key_in_other_forms_quotes_none_of_it(
        self, connect: Connect, sim: RunningSimulator, caplog: pytest.LogCaptureFixture
    ) -> None:
        wrong = "Wrong-Key-5c1e0a9d7b3f4e2a"
        connect(password=wrong)
        sim.admin.configure(echo_key=True)  # the refusal quotes it lower case, in base64 and its first half

        with caplog.at_level(logging.DEBUG), pytest.raises(PloomesAuthError) as raised:
            PloomesHook().check_key()

        shown = str(raised.value) + caplog.text
        assert "Key given" not in shown
        for form in (wrong, wrong.lower(), base64.b64encode(wrong.encode()).decode(), wrong[: len(wrong) // 2]):
            assert form not in shown and form.lower() not in shown.lower()

    def test_401_fails_without_retry_too(self, connect: Connect, sim: RunningSimulator) -> None:
        sim.admin.configure(auth_status=401)
        connect(password="wrong-key-00000000000")

        with pytest.raises(PloomesAuthError, match="answered 401"):
            list(PloomesHook().paginate("Deals"))

        # page 1 and the highest page go out together; neither is retried
        assert [entry["status"] for entry in api_log(sim)] in ([401], [401, 401])

    @pytest.mark.parametrize("password", ["", None])
    def test_an_empty_key_is_still_sent_and_the_error_says_it_is_empty(
        self, connect: Connect, sim: RunningSimulator, password: str | None
    ) -> None:
        connect(password=password)

        with pytest.raises(PloomesAuthError, match="configured key is EMPTY") as raised:
            PloomesHook().check_key()

        assert raised.value.key_empty is True
        assert [(entry["path"], entry["status"]) for entry in api_log(sim)] == [("/Account", 403)]

    # --- throttling -------------------------------------------------------------------------

    def test_429_with_retry_after_waits_what_the_server_asks(
        self, connect: Connect, sim: RunningSimulator
    ) -> None:
        connect()
        sim.admin.set_faults(schedule=[{"kind": "429", "count": 1, "path": "/Account"}])
        hook = PloomesHook()

        hook.check_key()

        throttled, answered = api_log(sim)
        assert (throttled["status"], answered["status"]) == (429, 200)
        assert answered["t"] - throttled["t"] >= 0.9  # Retry-After: 1, far above the 0.01 s backoff
        assert (hook.stats.throttled, hook.stats.retries) == (1, 1)
        assert hook.stats.backoff_wait_seconds >= 1.0

    def test_429_without_retry_after_backs_off_exponentially(
        self, connect: Connect, sim: RunningSimulator
    ) -> None:
        connect(backoff_base=0.1, backoff_max=1.0)
        sim.admin.configure(retry_after=False)
        sim.admin.set_faults(schedule=[{"kind": "429", "count": 3, "path": "/Account"}])
        hook = PloomesHook()

        hook.check_key()

        log = api_log(sim)
        assert [entry["status"] for entry in log] == [429, 429, 429, 200]
        gaps = [later["t"] - earlier["t"] for earlier, later in zip(log, log[1:], strict=False)]
        for number, gap in enumerate(gaps):
            assert gap >= 0.1 * 2**number - 0.02, gaps  # 0.1, 0.2, 0.4 s (plus jitter)
        assert hook.stats.throttled == 3

    def test_429s_beyond_the_throttle_budget_fail_with_a_clear_error(
        self, connect: Connect, sim: RunningSimulator
    ) -> None:
        connect(max_throttle_wait=0.5)  # the simulator asks for Retry-After: 1
        sim.admin.set_faults(schedule=[{"kind": "429", "count": 5}])

        with pytest.raises(PloomesRequestError) as raised:
            PloomesHook().check_key()

        message = str(raised.value)
        assert "429" in message and "max_throttle_wait" in message and "after 1 attempt " in message
        assert raised.value.status == 429
        assert len(api_log(sim)) == 1

    # --- transient failures -----------------------------------------------------------------

    @pytest.mark.parametrize("kind", ["500", "502", "503", "504", "drop", "malformed"])
    def test_each_fault_kind_is_recovered(self, connect: Connect, sim: RunningSimulator, kind: str) -> None:
        connect(page_size=300)  # one request at a time: the fault hits page 2
        sim.admin.set_faults(schedule=[{"kind": kind, "count": 2, "after": 1, "path": "/Deals"}])
        hook = PloomesHook()

        ids = read_ids(hook, select=["Id"])

        assert ids == truth_ids(sim)
        log = api_log(sim, "/Deals")
        assert [entry["fault"] for entry in log] == [None, kind, kind, None, None]  # 300, 300, 100 of 700
        assert log[1]["query"] == log[2]["query"] == log[3]["query"]  # the same page, asked again
        assert hook.stats.retries == 2

    def test_a_slow_answer_times_out_and_is_retried(self, connect: Connect, sim: RunningSimulator) -> None:
        connect(timeout=0.3)  # the simulator's slow answers take 1 s
        sim.admin.set_faults(schedule=[{"kind": "slow", "count": 1, "path": "/Deals"}])
        hook = PloomesHook()

        ids = read_ids(hook, select=["Id"])

        assert ids == truth_ids(sim)
        assert hook.stats.retries == 1 and hook.stats.requests == 4
        log = wait_for(lambda: api_log(sim, "/Deals") if len(api_log(sim, "/Deals")) == 4 else None)
        assert log[0]["fault"] == "slow" and log[0]["query"] == log[1]["query"]  # asked again

    @pytest.mark.parametrize(
        ("kind", "cause"),
        [("503", "status 503"), ("drop", "connection failed or dropped"), ("malformed", "not JSON")],
    )
    def test_retries_exhausted_give_a_clear_error_with_the_attempt_count(
        self, connect: Connect, sim: RunningSimulator, kind: str, cause: str
    ) -> None:
        connect(max_attempts=3)
        sim.admin.set_faults(schedule=[{"kind": kind, "count": 10}])

        with pytest.raises(PloomesRequestError) as raised:
            PloomesHook().check_key()

        error = raised.value
        assert error.attempts == 3 and len(api_log(sim)) == 3
        message = str(error)
        assert "gave up after 3 attempts" in message and cause in message
        assert f"GET {sim.url}/Account?$top=1&$select=Id" in message
        assert not isinstance(error, AirflowFailException)  # Airflow may retry the task

    def test_a_timeout_exhausted_names_the_timeout(self, connect: Connect, sim: RunningSimulator) -> None:
        connect(max_attempts=2, timeout=0.2)
        sim.admin.set_faults(schedule=[{"kind": "slow", "count": 2}])

        with pytest.raises(PloomesRequestError, match=r"gave up after 2 attempts.*timeout of 0.2 s"):
            PloomesHook().check_key()

    def test_a_200_without_a_value_list_is_an_invalid_answer(
        self, connect: Connect, sim: RunningSimulator
    ) -> None:
        connect(max_attempts=2)
        hook = PloomesHook()

        with pytest.raises(PloomesRequestError, match=r"'value' list") as raised:
            hook.fetch("_admin/health", {})  # a 200 JSON object without "value"

        assert raised.value.attempts == 2 and hook.stats.requests == 2

    def test_a_400_is_not_retried_and_shows_the_server_message(
        self, connect: Connect, sim: RunningSimulator
    ) -> None:
        connect(max_attempts=5)

        with pytest.raises(PloomesBadRequestError) as raised:
            list(PloomesHook().paginate("Deals", filter="NoSuchField eq 1"))

        assert raised.value.status == 400
        assert "NoSuchField" in str(raised.value) and "answered 400" in str(raised.value)
        assert not isinstance(raised.value, AirflowFailException)
        assert len(api_log(sim)) == 1

    def test_a_failed_write_names_its_own_method_not_get(self, connect: Connect, sim: RunningSimulator) -> None:
        connect()
        sim.admin.set_faults(schedule=[{"kind": "503", "count": 1, "after": 0, "path": "/Webhooks"}])
        with pytest.raises(PloomesServerError) as failed:
            PloomesHook().write("POST", "Webhooks", {"EntityId": 2, "ActionId": 2, "CallbackUrl": "https://x"})
        assert str(failed.value).startswith(f"POST {sim.url}/Webhooks answered 503")
        with pytest.raises(PloomesBadRequestError) as refused:
            PloomesHook().write("DELETE", "Webhooks(999999)")
        assert f"DELETE {sim.url}/Webhooks(999999) answered 404" in str(refused.value)

    @pytest.mark.parametrize("shape", ["odata", "aspnet", "value"])
    def test_every_error_shape_seen_in_the_wild_reaches_the_message(
        self, connect: Connect, sim: RunningSimulator, shape: str
    ) -> None:
        connect(max_attempts=2)
        sim.admin.configure(error_shape=shape)
        hook = PloomesHook()

        with pytest.raises(PloomesBadRequestError) as bad:
            list(hook.paginate("Deals", filter="NoSuchField eq 1"))
        sim.admin.set_faults(schedule=[{"kind": "503", "count": 2, "after": 0}])
        with pytest.raises(PloomesRequestError) as gave_up:
            hook.fetch("Deals", {"$top": "1"})
        sim.admin.clear_faults()
        sim.admin.configure(api_key="a-key-that-was-revoked")
        with pytest.raises(PloomesAuthError) as refused:
            hook.check_key()

        assert bad.value.server_message is not None and "NoSuchField" in bad.value.server_message
        assert "NoSuchField" in str(bad.value)
        assert "Simulated 503 error." in str(gave_up.value)
        assert "User-Key header is missing" not in str(refused.value)  # a 401/403 is never quoted

    # --- secrets, rate and counters ---------------------------------------------------------

    def test_the_key_never_appears_in_logs_or_errors(
        self,
        connect: Connect,
        sim: RunningSimulator,
        api_key: str,
        hook_logs: pytest.LogCaptureFixture,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        connect(page_size=300, max_attempts=5)
        sim.admin.set_faults(
            schedule=[{"kind": kind, "count": 1, "after": 1} for kind in ("503", "drop", "malformed", "429")]
        )
        hook = PloomesHook()
        errors: list[PloomesError] = []

        hook.check_key()
        list(read_pages(hook, "Deals", select=["Id"]))  # the reader's log lines too
        for call in (
            lambda: list(hook.paginate("Deals", filter="Bogus eq 1")),
            lambda: (sim.admin.configure(api_key="rotated-key-1234567890"), hook.check_key()),
        ):
            with pytest.raises(PloomesError) as raised:
                call()
            errors.append(raised.value)

        logged = hook_logs.text + "\n".join(str(record.__dict__) for record in hook_logs.records)
        assert "Deals: page 1" in logged and "Attempt 1" in logged  # the capture sees the hook
        assert f"GET {sim.url}/Account?$top=1&$select=Id" in logged  # ... at DEBUG
        assert "GET /Account" in logged  # ... and urllib3's debug lines
        assert [type(error) for error in errors] == [PloomesBadRequestError, PloomesAuthError]
        for text in (logged, capsys.readouterr().out, *map(str, errors), *map(repr, errors)):
            assert api_key not in text

    def test_requests_are_spaced_to_the_rate_limit(self, connect: Connect, sim: RunningSimulator) -> None:
        rpm = 600
        connect(page_size=20, requests_per_minute=rpm)
        hook = PloomesHook()

        assert len(read_ids(hook, select=["Id"])) == 700

        times = sorted(entry["t"] for entry in api_log(sim))
        assert len(times) == hook.stats.requests
        spacing = 60 / rpm
        # the limiter hands out slots `spacing` apart; a thread that wakes late on a busy machine
        # sends late, so two arrivals may come closer, but never more of them than the slots allow
        assert times[-1] - times[0] >= (len(times) - 1) * spacing - 0.05
        assert most_in_any_window(times, 60) <= rpm
        assert most_in_any_window(times, 1) <= rpm / 60 + 2
        assert hook.stats.limiter_wait_seconds > 0

    def test_hooks_of_one_process_share_the_rate_limit(self, connect: Connect, sim: RunningSimulator) -> None:
        rpm = 600
        connect(requests_per_minute=rpm)
        hooks = [PloomesHook(), PloomesHook()]

        def work(hook: PloomesHook) -> None:
            for _ in range(8):
                hook.count("Deals")

        threads = [threading.Thread(target=work, args=(hook,)) for hook in hooks]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)

        times = sorted(entry["t"] for entry in api_log(sim))
        assert len(times) == 16
        # One limit for both: 16 requests span 15 intervals (1.5 s); a limit each would let them through
        # in 0.7 s. The span, not each gap: on a busy machine one request's arrival lags its send and
        # shortens the next gap, while the span loses at most the first's and the last's lag.
        assert times[-1] - times[0] >= 15 * 60 / rpm - 0.2

    def test_stats_count_what_happened(self, connect: Connect, sim: RunningSimulator) -> None:
        connect(page_size=300)
        sim.admin.set_faults(schedule=[{"kind": "503", "count": 1, "after": 2}])
        hook = PloomesHook()

        hook.check_key()
        pages = list(hook.paginate("Deals"))

        assert [len(page) for page in pages] == [300, 300, 100]
        stats = hook.stats.as_dict()
        assert stats["requests"] == 1 + 3 + 1  # the key, three pages (the first counts 700), a retry
        assert (stats["pages"], stats["records"], stats["retries"], stats["throttled"]) == (3, 700, 1, 0)
        assert stats["backoff_wait_seconds"] > 0 and stats["limiter_wait_seconds"] >= 0

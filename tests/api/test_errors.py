"""The exception hierarchy of the Ploomes client and the parsing of error bodies."""

from __future__ import annotations

import base64
import json
from urllib.parse import quote

import pytest
from airflow.providers.common.compat.sdk import AirflowException, AirflowFailException

from ploomes_sync.api.errors import (
    PloomesAuthError,
    PloomesBadRequestError,
    PloomesError,
    PloomesInvalidResponseError,
    PloomesPagingError,
    PloomesRequestError,
    PloomesServerError,
    PloomesThrottledError,
    PloomesTransientError,
    scrub,
    server_message,
)

URL = "https://public-api2.ploomes.com/Account?$top=1&$select=Id"


class TestServerMessage:
    def test_reads_an_odata_error(self) -> None:
        body = json.dumps({"error": {"code": "BadRequest", "message": "Unknown property 'Foo'."}})

        assert server_message(body.encode()) == "BadRequest: Unknown property 'Foo'."

    def test_reads_an_odata_v3_error_whose_message_is_an_object(self) -> None:
        body = json.dumps({"error": {"code": "", "message": {"lang": "en-US", "value": "Bad filter."}}})

        assert server_message(body) == "Bad filter."

    def test_reads_an_aspnet_error(self) -> None:
        assert server_message(b'{"Message": "Authorization has been denied for this request."}') == (
            "Authorization has been denied for this request."
        )

    def test_reads_a_bare_string_under_value_as_ploomes_answers_a_malformed_request(self) -> None:
        body = json.dumps({"@odata.context": "https://public5-api2.ploomes.com/$metadata#Edm.String",
                           "value": "Your request has a wrong format"})

        assert server_message(body.encode()) == "Your request has a wrong format"

    def test_keeps_plain_text_with_whitespace_collapsed(self) -> None:
        assert (
            server_message(b"<h1>Bad Gateway</h1>\r\n  upstream  down")
            == "<h1>Bad Gateway</h1> upstream down"
        )

    @pytest.mark.parametrize("body", [b"", None, b"   ", b"{}", b'{"error": {}}', b'{"value": []}'])
    def test_returns_none_when_there_is_nothing_to_say(self, body: bytes | None) -> None:
        assert server_message(body) is None

    def test_survives_bodies_that_are_not_utf8(self) -> None:
        assert server_message(b"\xff\xfe oops") == "\ufffd\ufffd oops"

    def test_truncates_long_messages(self) -> None:
        message = server_message("x" * 1000, limit=50)

        assert message is not None and len(message) == 50 and message.endswith("…")

    def test_blanks_out_the_key_should_the_server_echo_it(self) -> None:
        key = "k3y-0f-the-account-1234567890"
        body = json.dumps({"Message": f"User-Key {key} is not valid"})

        assert server_message(body, secret=key) == "User-Key *** is not valid"

    def test_blanks_out_a_key_that_the_truncation_would_cut_in_half(self) -> None:
        key = "k3y-0f-the-account-1234567890"
        # cut first, the message would end in the key's first 8 characters, which no replace finds
        assert server_message(f"{'x' * 40} {key}", limit=50, secret=key) == f"{'x' * 40} ***"


class TestPloomesAuthError:
    def test_fails_the_task_without_retry_and_is_a_ploomes_error(self) -> None:
        error = PloomesAuthError(403, URL)

        assert isinstance(error, AirflowFailException)
        assert isinstance(error, PloomesError) and isinstance(error, AirflowException)

    def test_message_names_status_url_causes_and_where_to_renew(self) -> None:
        message = str(PloomesAuthError(403, URL, conn_id="my_ploomes"))

        assert "answered 403" in message and URL in message and "User-Key" in message
        assert "connection 'my_ploomes'" in message
        for cause in ("empty or missing key", "expired or revoked", "permission", "too heavy"):
            assert cause in message
        assert "Administração › Integrações › Usuários de integração" in message
        assert "EMPTY" not in message and "server said" not in message

    def test_says_when_the_configured_key_is_empty(self) -> None:
        error = PloomesAuthError(401, URL, key_empty=True)

        assert "configured key is EMPTY" in str(error) and error.status == 401

    def test_never_quotes_what_the_server_said(self) -> None:
        with pytest.raises(TypeError):
            PloomesAuthError(403, URL, server_message="Chave inválida")  # type: ignore[call-arg]


class TestScrub:
    KEY = "Not-A-Real-Key-For-The-Scrub-Tests"

    @pytest.mark.parametrize("form", [
        KEY, KEY.lower(), KEY.upper(), base64.b64encode(KEY.encode()).decode(),
        base64.urlsafe_b64encode(KEY.encode()).decode().rstrip("="), KEY[: len(KEY) // 2], KEY[-12:],
        quote(KEY, safe=""),
    ], ids=["as is", "lower", "upper", "base64", "urlsafe base64", "first half", "last third", "quoted"])
    def test_masks_the_secret_in_any_form_it_may_be_echoed_in(self, form: str) -> None:
        text = f"Key given: {form} (refused)"
        assert scrub(text, [self.KEY]) == "Key given: *** (refused)"

    def test_leaves_ordinary_text_and_short_secrets_alone(self) -> None:
        text = "GET https://public-api2.ploomes.com/Deals answered 503"
        assert scrub(text, [self.KEY, "abc", None, ""]) == text
        assert scrub("postgres password pw1 here", ["pw1"]) == "postgres password pw1 here"


class TestPloomesRequestError:
    def test_message_names_url_attempts_and_last_cause(self) -> None:
        error = PloomesRequestError(URL, 5, "status 503", status=503, throttled=2)

        assert str(error) == (
            f"Ploomes request failed: GET {URL} gave up after 5 attempts (2 answered 429). "
            "Last failure: status 503."
        )
        assert (error.attempts, error.status, error.throttled) == (5, 503, 2)

    def test_one_attempt_is_singular(self) -> None:
        assert "gave up after 1 attempt. Last failure" in str(PloomesRequestError(URL, 1, "status 429"))

    def test_is_not_a_fail_exception(self) -> None:
        assert not isinstance(PloomesRequestError(URL, 2, "x"), AirflowFailException)


class TestPloomesBadRequestError:
    def test_message_says_not_retried_and_quotes_the_server(self) -> None:
        error = PloomesBadRequestError(400, URL, "Unknown property 'Foo'.")

        assert "answered 400" in str(error) and "not retried" in str(error)
        assert "Unknown property 'Foo'." in str(error)
        assert not isinstance(error, AirflowFailException)


class TestPloomesTransientError:
    def test_every_transient_kind_is_one(self) -> None:
        for error in (
            PloomesServerError(503, URL),
            PloomesThrottledError(URL, 2.0),
            PloomesInvalidResponseError(200, URL, "not JSON"),
        ):
            assert isinstance(error, PloomesTransientError)
        assert not issubclass(PloomesPagingError, PloomesTransientError)

    def test_throttled_error_carries_retry_after(self) -> None:
        assert PloomesThrottledError(URL, 3.0).retry_after == 3.0
        assert "no Retry-After" in str(PloomesThrottledError(URL))
        assert PloomesThrottledError(URL).status == 429

"""The tenacity pieces of the retry policy."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
import requests
import tenacity

from ploomes_sync.api import retry
from ploomes_sync.api.errors import (
    PloomesAuthError,
    PloomesBadRequestError,
    PloomesInvalidResponseError,
    PloomesServerError,
    PloomesThrottledError,
)

URL = "http://api/Deals"
NOW = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)


def run(outcomes: Iterable[BaseException | str], **policy) -> tuple[str | BaseException, int, list[float]]:
    """Drive a Retrying over ``outcomes`` (raised, or returned when a str); (result, attempts, sleeps)."""
    pending = iter(outcomes)
    sleeps: list[float] = []
    attempts = 0

    def attempt() -> str:
        nonlocal attempts
        attempts += 1
        outcome = next(pending)
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    retrying = tenacity.Retrying(sleep=sleeps.append, reraise=True, **policy)
    try:
        result: str | BaseException = retrying(attempt)
    except Exception as exc:  # noqa: BLE001 - the test looks at whatever came out
        result = exc
    return result, attempts, sleeps


def policy(
    max_attempts: int = 3, max_throttle_wait: float = 10.0, base: float = 1.0, cap: float = 8.0
) -> dict:
    return {
        "retry": retry.retry_if_transient,
        "wait": retry.wait_retry_after(retry.wait_backoff(base, cap)),
        "stop": retry.stop_after_failures(max_attempts) | retry.stop_after_throttle_wait(max_throttle_wait),
    }


class TestParseRetryAfter:
    @pytest.mark.parametrize(("value", "seconds"), [("3", 3.0), (" 120 ", 120.0), ("1.5", 1.5), ("-4", 0.0)])
    def test_reads_delta_seconds(self, value: str, seconds: float) -> None:
        assert retry.parse_retry_after(value) == seconds

    def test_reads_an_http_date(self) -> None:
        value = format_datetime(NOW + timedelta(seconds=30), usegmt=True)

        assert retry.parse_retry_after(value, now=NOW) == 30.0

    def test_a_date_in_the_past_means_no_wait(self) -> None:
        assert retry.parse_retry_after("Wed, 01 May 2024 11:00:00 GMT", now=NOW) == 0.0

    @pytest.mark.parametrize("value", [None, "", "  ", "soon", "nan", "inf"])
    def test_unusable_values_give_none(self, value: str | None) -> None:
        assert retry.parse_retry_after(value) is None


class TestIsTransient:
    @pytest.mark.parametrize(
        "exc",
        [
            PloomesServerError(503, URL),
            PloomesThrottledError(URL, 1.0),
            PloomesInvalidResponseError(200, URL, "not JSON"),
            requests.ReadTimeout("read timed out"),
            requests.ConnectTimeout("connect timed out"),
            requests.ConnectionError("dropped"),
            requests.exceptions.ChunkedEncodingError("cut"),
        ],
    )
    def test_retries_what_another_attempt_may_fix(self, exc: BaseException) -> None:
        assert retry.is_transient(exc)

    @pytest.mark.parametrize(
        "exc",
        [PloomesAuthError(403, URL), PloomesBadRequestError(400, URL), ValueError("bug"), KeyError("x")],
    )
    def test_does_not_retry_the_rest(self, exc: BaseException) -> None:
        assert not retry.is_transient(exc)


class TestWaitRetryAfter:
    def test_waits_what_retry_after_asks(self) -> None:
        _, _, sleeps = run([PloomesThrottledError(URL, 7.0), "ok"], **policy())

        assert sleeps == [7.0]

    def test_backs_off_exponentially_with_jitter_when_absent(self) -> None:
        outcomes = [PloomesThrottledError(URL)] * 5 + ["ok"]

        _, _, sleeps = run(outcomes, **policy(base=1.0, cap=8.0, max_throttle_wait=100))

        for number, sleep in enumerate(sleeps):
            low = min(2.0**number, 8.0)
            assert low <= sleep <= min(low + 1.0, 8.0)
        assert sleeps[-1] == 8.0  # capped

    def test_other_failures_use_the_backoff(self) -> None:
        _, _, sleeps = run(
            [PloomesServerError(502, URL), PloomesServerError(502, URL), "ok"], **policy(base=2.0)
        )

        assert 2.0 <= sleeps[0] <= 4.0 and 4.0 <= sleeps[1] <= 6.0


class TestStopAfterFailures:
    def test_gives_up_after_max_attempts_failures(self) -> None:
        failures = [PloomesServerError(503, URL)] * 5 + ["ok"]

        result, attempts, _ = run(failures, **policy(max_attempts=3))

        assert isinstance(result, PloomesServerError) and attempts == 3

    def test_429s_do_not_count_as_failures(self) -> None:
        outcomes = [
            PloomesServerError(503, URL),
            PloomesThrottledError(URL, 0.1),
            PloomesThrottledError(URL, 0.1),
            PloomesServerError(503, URL),
            "ok",
        ]

        result, attempts, _ = run(outcomes, **policy(max_attempts=3))

        assert (result, attempts) == ("ok", 5)

    def test_errors_that_do_not_retry_stop_at_once(self) -> None:
        result, attempts, _ = run([PloomesAuthError(403, URL), "ok"], **policy())

        assert isinstance(result, PloomesAuthError) and attempts == 1

    def test_one_set_of_pieces_serves_many_calls(self) -> None:
        pieces = policy(max_attempts=2)
        retrying = tenacity.Retrying(sleep=lambda _: None, **pieces)
        calls = iter([PloomesServerError(503, URL), "first", PloomesServerError(503, URL), "second"])

        def attempt() -> str:
            outcome = next(calls)
            if isinstance(outcome, BaseException):
                raise outcome
            return outcome

        assert retrying(attempt) == "first"
        assert retrying(attempt) == "second"  # the tally started again


class TestStopAfterThrottleWait:
    def test_stops_before_the_total_wait_exceeds_the_budget(self) -> None:
        outcomes = [PloomesThrottledError(URL, 3.0)] * 5 + ["ok"]

        result, attempts, sleeps = run(outcomes, **policy(max_throttle_wait=7.0))

        assert isinstance(result, PloomesThrottledError)
        assert sleeps == [3.0, 3.0] and attempts == 3

    def test_a_retry_after_beyond_the_budget_stops_at_once(self) -> None:
        result, attempts, sleeps = run(
            [PloomesThrottledError(URL, 60.0), "ok"], **policy(max_throttle_wait=5.0)
        )

        assert isinstance(result, PloomesThrottledError) and attempts == 1 and sleeps == []

    def test_reports_its_tallies_to_the_give_up_callback(self) -> None:
        seen: dict[str, float] = {}

        def give_up(state: tenacity.RetryCallState) -> str:
            seen.update(
                throttled=retry.throttled(state),
                wait=retry.throttle_wait(state),
                failures=retry.failures(state),
            )
            return "gave up"

        outcomes = [
            PloomesServerError(500, URL),
            PloomesThrottledError(URL, 2.0),
            PloomesThrottledError(URL, 9.0),
        ]
        retrying = tenacity.Retrying(
            sleep=lambda _: None, retry_error_callback=give_up, **policy(max_throttle_wait=5)
        )
        pending = iter(outcomes)

        def attempt() -> str:
            raise next(pending)

        assert retrying(attempt) == "gave up"
        assert seen == {"throttled": 2, "wait": 2.0, "failures": 1}

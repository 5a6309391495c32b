"""Tenacity pieces of the Ploomes retry policy: which failures retry, how long to wait, when to stop.

- :data:`retry_if_transient`: 5xx, 429, timeouts, dropped connections and invalid bodies retry;
  401/403 and other 4xx do not.
- :class:`wait_retry_after`: a 429's ``Retry-After`` (seconds or HTTP-date) when it was sent,
  else the fallback (exponential backoff with jitter, capped).
- :class:`stop_after_failures` | :class:`stop_after_throttle_wait`: failures other than 429
  are bounded by a number of attempts; 429s by the total time spent waiting them out;
- :func:`policy` puts them together (waits end at once when the read is cancelled), and
  :func:`retrying` makes of it the hook's ``Retrying``: every retry counted and logged, a 429's wait
  held against the whole budget, the last failure a :class:`PloomesRequestError`.

Class names are lower case, as tenacity's own pieces are. The stop pieces keep their tallies
in the ``statistics`` of the Retrying object, which tenacity clears at the start of every call
(and keeps per thread), so one set of pieces serves any number of requests.
"""

from __future__ import annotations

import email.utils
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from logging import Logger
from typing import TYPE_CHECKING, Any, NoReturn

import requests
import tenacity
from tenacity import RetryCallState
from tenacity.stop import stop_base
from tenacity.wait import wait_base

from ploomes_sync.api.errors import (
    PloomesAnswerTooLarge,
    PloomesInvalidResponseError,
    PloomesRequestError,
    PloomesServerError,
    PloomesThrottledError,
    PloomesTransientError,
    ReadCancelled,
)

if TYPE_CHECKING:
    from ploomes_sync.api.options import PloomesOptions
    from ploomes_sync.api.ratelimit import Limiter
    from ploomes_sync.api.stats import RequestStats

#: Exceptions of one attempt that another attempt may fix.
TRANSIENT_EXCEPTIONS: tuple[type[BaseException], ...] = (
    PloomesTransientError,  # 5xx, 429, invalid body
    requests.Timeout,  # connect and read timeouts
    requests.ConnectionError,  # refused or dropped connections
    requests.exceptions.ChunkedEncodingError,  # connection lost in the middle of a body
    requests.exceptions.ContentDecodingError,
)

FAILURES_KEY = "ploomes_failures"
THROTTLE_WAIT_KEY = "ploomes_throttle_wait"
THROTTLED_KEY = "ploomes_throttled"


def is_transient(exc: BaseException) -> bool:
    """Whether another attempt may succeed where this one failed."""
    return isinstance(exc, TRANSIENT_EXCEPTIONS)


retry_if_transient = tenacity.retry_if_exception(is_transient)


def http_date(value: str | None) -> datetime | None:
    """An HTTP-date header (``Date``, ``Retry-After``) as an aware datetime; None when absent or unreadable."""
    if not value or not value.strip():
        return None
    try:
        when = email.utils.parsedate_to_datetime(value.strip())
    except (TypeError, ValueError):
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP-date); None if unusable."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        when = http_date(text)
        if when is None:
            return None
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    if seconds != seconds or seconds == float("inf"):  # NaN or infinite
        return None
    return max(0.0, seconds)


def _exception(retry_state: RetryCallState) -> BaseException | None:
    outcome = retry_state.outcome
    return outcome.exception() if outcome is not None and outcome.failed else None


def _throttled(retry_state: RetryCallState) -> bool:
    return isinstance(_exception(retry_state), PloomesThrottledError)


def _tally(retry_state: RetryCallState) -> dict[str, Any]:
    return retry_state.retry_object.statistics


def failures(retry_state: RetryCallState) -> int:
    """Failed attempts of this call other than 429s, as counted by :class:`stop_after_failures`."""
    return int(_tally(retry_state).get(FAILURES_KEY, 0))


def throttle_wait(retry_state: RetryCallState) -> float:
    """Seconds this call has been allowed to wait out 429s, per :class:`stop_after_throttle_wait`."""
    return float(_tally(retry_state).get(THROTTLE_WAIT_KEY, 0.0))


def throttled(retry_state: RetryCallState) -> int:
    """Attempts of this call answered 429, per :class:`stop_after_throttle_wait`."""
    return int(_tally(retry_state).get(THROTTLED_KEY, 0))


class wait_retry_after(wait_base):
    """Wait what a 429's ``Retry-After`` asks; otherwise (and for other failures) the fallback."""

    def __init__(self, fallback: wait_base) -> None:
        self.fallback = fallback

    def __call__(self, retry_state: RetryCallState) -> float:
        exc = _exception(retry_state)
        if isinstance(exc, PloomesThrottledError) and exc.retry_after is not None:
            return exc.retry_after
        return self.fallback(retry_state)


def wait_backoff(base: float, maximum: float) -> wait_base:
    """Exponential backoff from ``base`` seconds (doubling), plus up to ``base`` of jitter, capped."""
    return tenacity.wait_exponential_jitter(multiplier=base, max=maximum, jitter=base)


class stop_after_failures(stop_base):
    """Stop when ``max_attempts`` attempts have failed for a reason other than a 429."""

    def __init__(self, max_attempts: int) -> None:
        self.max_attempts = max_attempts

    def __call__(self, retry_state: RetryCallState) -> bool:
        if _throttled(retry_state):
            return False
        tally = _tally(retry_state)
        tally[FAILURES_KEY] = tally.get(FAILURES_KEY, 0) + 1
        return tally[FAILURES_KEY] >= self.max_attempts


class stop_after_throttle_wait(stop_base):
    """Stop when waiting out one more 429 would take the call's total over ``max_seconds``."""

    def __init__(self, max_seconds: float) -> None:
        self.max_seconds = max_seconds

    def __call__(self, retry_state: RetryCallState) -> bool:
        if not _throttled(retry_state):
            return False
        tally = _tally(retry_state)
        tally[THROTTLED_KEY] = tally.get(THROTTLED_KEY, 0) + 1
        total = tally.get(THROTTLE_WAIT_KEY, 0.0) + retry_state.upcoming_sleep
        if total > self.max_seconds:
            return True
        tally[THROTTLE_WAIT_KEY] = total
        return False


def cancellable_sleep(cancel: threading.Event | None) -> Callable[[float], None]:
    """tenacity's ``sleep``: waits, but stops at once (raising ReadCancelled) when ``cancel`` is set."""

    def sleep(seconds: float) -> None:
        if cancel is None:
            time.sleep(seconds)
        elif cancel.wait(seconds):
            raise ReadCancelled("read cancelled")

    return sleep


def policy(options: Any, *, cancel: threading.Event | None = None,
           on_retry: Callable[[RetryCallState], None] | None = None) -> dict[str, Any]:
    """The tenacity pieces of one request for the hook's options (``max_attempts``, ``backoff_*``,
    ``max_throttle_wait``): which failures retry, how long to wait, when to stop."""
    pieces: dict[str, Any] = {
        "retry": retry_if_transient,
        "wait": wait_retry_after(wait_backoff(options.backoff_base, options.backoff_max)),
        "stop": stop_after_failures(options.max_attempts) | stop_after_throttle_wait(options.max_throttle_wait),
        "sleep": cancellable_sleep(cancel),
    }
    if on_retry is not None:
        pieces["before_sleep"] = on_retry
    return pieces


def retrying(options: PloomesOptions, method: str, url: str, *, stats: RequestStats, limiter: Limiter,
             log: Logger, cancel: threading.Event | None = None) -> tenacity.Retrying:
    """The ``Retrying`` of one request (``method`` ``url``) under :func:`policy`: each retry counted in
    ``stats`` and logged, a 429's wait held against every request of ``limiter``, and the last failure
    (retries or the throttle budget spent) raised as a :class:`PloomesRequestError`."""

    def on_retry(retry_state: RetryCallState) -> None:
        exc, wait = _exception(retry_state), retry_state.upcoming_sleep
        stats.add(retries=1, backoff_wait_seconds=wait)
        if isinstance(exc, PloomesThrottledError):
            limiter.penalize(wait)  # every request of this budget waits it out, not this one alone
            log.warning("Throttled by Ploomes (429, %s): waiting %.2f s before attempt %s of %s %s",
                        describe(exc, options), wait, retry_state.attempt_number + 1, method, url)
        else:
            log.warning("Attempt %s of %s %s failed (%s); retrying in %.2f s",
                        retry_state.attempt_number, method, url, describe(exc, options), wait)

    def give_up(retry_state: RetryCallState) -> NoReturn:
        exc = _exception(retry_state)
        if isinstance(exc, ReadCancelled):
            raise exc
        cause = describe(exc, options)
        if isinstance(exc, PloomesThrottledError):
            cause += (f"; waiting it out would take this request's time spent on 429s past max_throttle_wait "
                      f"({options.max_throttle_wait:g} s; {throttle_wait(retry_state):.1f} s spent)")
        error = PloomesRequestError(url, retry_state.attempt_number, cause, status=getattr(exc, "status", None),
                                    throttled=throttled(retry_state), method=method, last=exc)
        log.error("%s", error)
        raise error from exc

    return tenacity.Retrying(**policy(options, cancel=cancel, on_retry=on_retry), retry_error_callback=give_up)


def describe(exc: BaseException | None, options: Any = None) -> str:
    """What went wrong with one attempt, in a few words."""
    if exc is None:
        return "no exception"
    if isinstance(exc, PloomesServerError):
        return f"status {exc.status}" + (f" ({exc.server_message})" if exc.server_message else "")
    if isinstance(exc, PloomesThrottledError):
        asked = f"Retry-After {exc.retry_after:g} s" if exc.retry_after is not None else "no Retry-After"
        return f"status 429 Too Many Requests ({asked})"
    if isinstance(exc, PloomesInvalidResponseError):
        return f"status {exc.status} with an invalid body: {exc.reason}"
    if isinstance(exc, PloomesAnswerTooLarge):
        return f"status {exc.status} with a body larger than {exc.limit} bytes"
    if isinstance(exc, requests.Timeout):
        limit = f" of {options.timeout:g} s" if options is not None else ""
        return f"timeout{limit} ({exc.__class__.__name__}: {exc})"
    if isinstance(exc, requests.ConnectionError):
        return f"connection failed or dropped ({exc.__class__.__name__}: {exc})"
    return f"{exc.__class__.__name__}: {exc}"

"""Client-side rate limiter: requests evenly spaced at ``60 / requests_per_minute`` seconds.

A leaky bucket with no burst (GCRA with zero tolerance): a request may start only one interval
after the previous one started, so no 60-second window can hold more than the configured number.
The limiter is thread-safe, and :func:`shared_limiter` hands every hook of a process that talks to
the same account the same limiter. Across processes (concurrent Airflow tasks) the limit is held
by the ``ploomes_api`` pool, not here.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable

SECONDS_PER_MINUTE = 60.0


class RateLimiter:
    """Spaces calls to :meth:`acquire` at least ``60 / requests_per_minute`` seconds apart."""

    def __init__(
        self,
        requests_per_minute: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not requests_per_minute > 0:
            raise ValueError(f"requests_per_minute must be positive, got {requests_per_minute!r}")
        self.requests_per_minute = float(requests_per_minute)
        self.interval = SECONDS_PER_MINUTE / self.requests_per_minute
        self._clock = clock
        self._sleep = sleep
        self._next_start: float | None = None  # earliest start of the next request
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"RateLimiter(requests_per_minute={self.requests_per_minute:g})"

    def acquire(self) -> float:
        """Block until the next request may start; return the seconds spent waiting."""
        started = self._clock()
        # The lock is held while sleeping on purpose: waiting callers queue behind it, and the next
        # slot is set from the moment this one really starts, so a late wake-up never bunches two.
        with self._lock:
            now = self._clock()
            while self._next_start is not None and now < self._next_start:
                self._sleep(self._next_start - now)
                now = self._clock()
            self._next_start = now + self.interval
        return self._clock() - started


_shared: dict[tuple[Hashable, float], RateLimiter] = {}
_shared_lock = threading.Lock()


def shared_limiter(scope: Hashable, requests_per_minute: float) -> RateLimiter:
    """The process-wide limiter of ``scope`` (e.g. base URL and connection id) at that rate."""
    key = (scope, float(requests_per_minute))
    with _shared_lock:
        limiter = _shared.get(key)
        if limiter is None:
            limiter = _shared[key] = RateLimiter(requests_per_minute)
        return limiter

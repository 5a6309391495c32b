"""Rate limiters: requests evenly spaced at ``60 / requests_per_minute`` seconds.

A limiter hands out start times (GCRA with no burst): each request reserves the next free slot,
one interval after the previous one, and waits for it; so no 60-second window holds more than
the configured number, whatever the number of threads. A request may cost more than one slot
(:class:`Paced`: a share of the budget), and a 429 pushes every later slot back (:meth:`penalize`).

- :class:`RateLimiter` holds the budget within one process; :func:`shared_limiter` gives every hook
  of a process that talks to the same account the same one.
- ``ploomes_sync.warehouse.budget.WarehouseBudget`` holds it across processes and machines (the
  DAG's tasks, the webhook applier), in the warehouse.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from typing import Protocol

from ploomes_sync.api.errors import ReadCancelled

SECONDS_PER_MINUTE = 60.0


class Limiter(Protocol):
    """What a hook waits for before each request."""

    def acquire(self, cancel: threading.Event | None = None, cost: float = 1.0) -> float:
        """Wait for the next slot (``cost`` slots wide); the seconds waited. ReadCancelled on cancel."""
        ...

    def penalize(self, seconds: float) -> None:
        """No slot starts within ``seconds`` from now (the API answered 429)."""
        ...


def wait_until(delay: float, cancel: threading.Event | None, sleep: Callable[[float], None] = time.sleep,
               clock: Callable[[], float] = time.monotonic) -> None:
    """Wait ``delay`` seconds (a sleep that ends early is topped up), or raise :class:`ReadCancelled`
    as soon as ``cancel`` is set."""
    deadline = clock() + delay
    while (remaining := deadline - clock()) > 0:
        if cancel is None:
            sleep(remaining)
        elif cancel.wait(remaining):
            raise ReadCancelled("read cancelled while waiting for the rate limiter")


class RateLimiter:
    """Spaces requests at least ``60 / requests_per_minute`` seconds apart, within one process."""

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

    def acquire(self, cancel: threading.Event | None = None, cost: float = 1.0) -> float:
        """Reserve the next slot and wait for it; return the seconds spent waiting."""
        with self._lock:
            now = self._clock()
            start = now if self._next_start is None else max(now, self._next_start)
            self._next_start = start + self.interval * cost
        wait_until(start - now, cancel, self._sleep, self._clock)
        return max(0.0, start - now)

    def penalize(self, seconds: float) -> None:
        """Push every slot not yet handed out to ``seconds`` from now at the earliest."""
        with self._lock:
            until = self._clock() + max(0.0, seconds)
            if self._next_start is None or self._next_start < until:
                self._next_start = until


class Paced:
    """A limiter whose requests cost ``1 / share`` slots: alone, they spend ``share`` of the budget."""

    def __init__(self, limiter: Limiter, share: float) -> None:
        if not 0 < share <= 1:
            raise ValueError(f"share must be in (0, 1], got {share!r}")
        self.limiter, self.share = limiter, share

    def __repr__(self) -> str:
        return f"Paced({self.limiter!r}, share={self.share:g})"

    def acquire(self, cancel: threading.Event | None = None, cost: float = 1.0) -> float:
        return self.limiter.acquire(cancel, cost / self.share)

    def penalize(self, seconds: float) -> None:
        self.limiter.penalize(seconds)


_shared: dict[tuple[Hashable, float], RateLimiter] = {}
_shared_lock = threading.Lock()


def shared_limiter(scope: Hashable, requests_per_minute: float) -> RateLimiter:
    """The process-wide limiter of ``scope`` (e.g. the base URL) at that rate."""
    key = (scope, float(requests_per_minute))
    with _shared_lock:
        limiter = _shared.get(key)
        if limiter is None:
            limiter = _shared[key] = RateLimiter(requests_per_minute)
        return limiter

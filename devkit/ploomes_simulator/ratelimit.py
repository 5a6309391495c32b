"""The account-wide rate limit: at most N answered requests in any rolling 60-second window."""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable

WINDOW_SECONDS = 60.0


class RollingWindowLimiter:
    """Admits a request when fewer than ``limit`` were admitted in the last window (0 = off)."""

    def __init__(
        self, limit: int, window: float = WINDOW_SECONDS, clock: Callable[[], float] = time.monotonic
    ):
        self._limit = limit
        self._window = window
        self._clock = clock
        self._admitted: deque[float] = deque()
        self._lock = threading.Lock()

    @property
    def limit(self) -> int:
        """Requests allowed per window; 0 means no limit."""
        return self._limit

    def set_limit(self, limit: int) -> None:
        """Change the limit; what was admitted so far still counts."""
        with self._lock:
            self._limit = limit

    def reset(self) -> None:
        """Forget every admitted request."""
        with self._lock:
            self._admitted.clear()

    def acquire(self) -> int | None:
        """Admit (and count) a request: None, or the whole seconds until a slot frees (>= 1)."""
        with self._lock:
            if self._limit <= 0:
                return None
            now = self._clock()
            self._expire(now)
            if len(self._admitted) >= self._limit:
                return self._wait_seconds(now)
            self._admitted.append(now)
            return None

    def wait_seconds(self) -> int:
        """Seconds until a slot frees if the window is full now, else 1 (for injected 429s)."""
        with self._lock:
            now = self._clock()
            self._expire(now)
            if self._limit > 0 and len(self._admitted) >= self._limit:
                return self._wait_seconds(now)
            return 1

    def _expire(self, now: float) -> None:
        while self._admitted and self._admitted[0] <= now - self._window:
            self._admitted.popleft()

    def _wait_seconds(self, now: float) -> int:
        # the slot frees when enough of the oldest admissions leave the window
        freeing = self._admitted[len(self._admitted) - self._limit]
        return max(1, math.ceil(freeing + self._window - now))

"""A hook's request counters, for logs and run history."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field, fields
from datetime import timedelta
from typing import Any


@dataclass
class RequestStats:
    """Counters of one hook, for logs and run history (waits in seconds). The reader's threads
    change them side by side: every change goes through :meth:`add` or :meth:`answered`, under a lock."""

    requests: int = 0  # sent, retries included
    pages: int = 0  # non-empty pages handed to the caller
    records: int = 0
    throttled: int = 0  # answers 429
    retries: int = 0
    limiter_wait_seconds: float = 0.0
    backoff_wait_seconds: float = 0.0  # waiting out failures and 429s
    last_latency_seconds: float | None = None  # how long the latest answer took
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, **amounts: float) -> None:
        """Add to counters (``requests=1``, ``backoff_wait_seconds=2.5``, ...)."""
        with self._lock:
            for name, amount in amounts.items():
                setattr(self, name, getattr(self, name) + amount)

    def answered(self, elapsed: timedelta) -> None:
        """An answer came back after ``elapsed``."""
        with self._lock:
            self.last_latency_seconds = elapsed.total_seconds()

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready copy."""
        with self._lock:
            return {spec.name: getattr(self, spec.name) for spec in fields(self) if not spec.name.startswith("_")}

"""The log of API requests and its counters."""

from __future__ import annotations

import threading
from collections import Counter, deque
from typing import Any

MAX_LOGGED_REQUESTS = 200_000  # the oldest entries go first; the counters keep counting

DROPPED = "dropped"  # the by_status key of requests answered by closing the connection


class RequestLog:
    """Thread-safe list of ``{"t", "answered", "method", "path", "query", "status", "fault"}`` entries
    (``t``: when the request arrived; ``answered``: when its answer went out)."""

    def __init__(self, max_entries: int = MAX_LOGGED_REQUESTS) -> None:
        self._entries: deque[dict[str, Any]] = deque(maxlen=max_entries)
        self._by_status: Counter[str] = Counter()
        self._total = 0
        self._lock = threading.Lock()

    def record(
        self, t: float, method: str, path: str, query: dict[str, str], status: int | None, fault: str | None,
        answered: float | None = None,
    ) -> None:
        """Log one request; ``status`` is None when the connection was dropped."""
        entry = {"t": t, "answered": t if answered is None else answered, "method": method, "path": path,
                 "query": query, "status": status, "fault": fault}
        with self._lock:
            self._entries.append(entry)
            self._total += 1
            self._by_status[DROPPED if status is None else str(status)] += 1

    def entries(self) -> list[dict[str, Any]]:
        """A copy of the logged entries, oldest first."""
        with self._lock:
            return list(self._entries)

    def counts(self) -> dict[str, Any]:
        """``{"total": n, "by_status": {"200": n, ...}}``."""
        with self._lock:
            return {"total": self._total, "by_status": dict(self._by_status)}

    def clear(self) -> None:
        """Forget every entry and reset the counters."""
        with self._lock:
            self._entries.clear()
            self._by_status.clear()
            self._total = 0

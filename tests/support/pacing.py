"""How requests were spread in time, read from the simulator's log."""

from __future__ import annotations

from collections.abc import Sequence


def most_in_any_window(times: Sequence[float], seconds: float) -> int:
    """The most of ``times`` that fall in any window ``[t, t + seconds)`` starting at one of them."""
    return max((sum(1 for t in times if start <= t < start + seconds) for start in times), default=0)

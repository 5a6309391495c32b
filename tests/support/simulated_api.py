"""What the tests of the hook and the reader read off the simulator: its request log, its deals."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from ploomes_simulator import RunningSimulator

OUT_OF_WINDOW = "2099-01-01T00:00:00-03:00"  # a LastUpdateDate beyond WINDOW
WINDOW = "LastUpdateDate lt 2098-01-01T00:00:00-03:00"


def api_log(sim: RunningSimulator, path: str | None = None) -> list[dict[str, Any]]:
    """The API requests the simulator received (optionally for one path), oldest first."""
    entries = [entry for entry in sim.admin.requests() if path is None or entry["path"] == path]
    return sorted(entries, key=lambda entry: entry["t"])  # logged when answered, sorted by arrival


def wait_for(probe: Callable[[], Any], timeout: float = 5.0) -> Any:
    """The first truthy result of ``probe`` (the simulator logs a request once it has answered)."""
    deadline = time.monotonic() + timeout
    while not (result := probe()):
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.05)
    return result


def truth_ids(sim: RunningSimulator) -> list[int]:
    """The simulator's deal Ids, in order."""
    return [deal["Id"] for deal in sim.admin.truth_deals()]

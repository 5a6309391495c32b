"""A failed extract frees the API at once: its process ends without waiting for the requests in flight.

The extract's consumer (the COPY into staging) fails while several slow requests are under way.
The task's process must end right away, not when the answers (or their retries, or 429 waits)
come: until it ends, it holds its slot of pool ``ploomes_api``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

from ploomes_simulator import RunningSimulator

SCRIPT = """
import sys, time
from ploomes_simulator import AdminClient
from ploomes_sync.api.reader import read_pages
from ploomes_sync.hooks.ploomes import PloomesHook
admin = AdminClient(sys.argv[1])
for page in read_pages(PloomesHook(), "Deals", select=["Id"]):
    if page.number == 3:
        # page 3 can come before the ranges send anything: fail once slow requests are out
        while admin.faults()["schedule"][0]["count"] == 100:  # counted down as each one arrives
            time.sleep(0.05)
        sys.exit("the staging failed")
"""


def answered(sim: RunningSimulator) -> int:
    return sum(1 for entry in sim.admin.requests() if entry["path"] == "/Deals")


def test_a_consumer_that_fails_mid_extract_ends_its_process_before_the_requests_in_flight_return(
    sim: RunningSimulator, connect,
) -> None:
    connect(page_size=20, max_in_flight=4, timeout=60, max_throttle_wait=600)
    sim.admin.configure(slow_seconds=4.0, latency_seconds=0.05)
    sim.admin.set_faults(schedule=[{"kind": "slow", "count": 100, "after": 3, "path": "/Deals"}])

    worker = subprocess.run([sys.executable, "-c", SCRIPT, sim.url], env=os.environ.copy(), capture_output=True,
                            text=True, timeout=120)
    answered_at_exit = answered(sim)

    assert worker.returncode == 1 and "the staging failed" in worker.stderr
    deadline = time.monotonic() + 30
    while answered(sim) == answered_at_exit and time.monotonic() < deadline:
        time.sleep(0.1)
    assert answered(sim) > answered_at_exit, "the process had waited for every request in flight"

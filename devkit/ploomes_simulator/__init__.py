"""A real HTTP server that behaves like the Ploomes public API, for tests, demos and benchmarks.

    from ploomes_simulator import SimulatorConfig, run_in_thread

    with run_in_thread(SimulatorConfig(deals=700, contacts=50, rate_limit=0)) as sim:
        sim.url             # http://127.0.0.1:<free port>
        sim.admin.mutate(updates=10)

See ``python -m ploomes_simulator --help`` for the command line.
"""

from __future__ import annotations

from .admin import AdminClient, AdminError
from .config import DEMO_API_KEY, SimulatorConfig
from .server import RunningSimulator, run_in_thread, serve

__all__ = [
    "DEMO_API_KEY",
    "AdminClient",
    "AdminError",
    "RunningSimulator",
    "SimulatorConfig",
    "run_in_thread",
    "serve",
]

"""One scenario in a process of its own: ``python -m bench.worker <spec.json> <result.json>``.

The parent passes the simulator's key in ``BENCH_PLOOMES_API_KEY`` (never on disk or the command
line) and ``AIRFLOW_HOME``; the worker points the ``ploomes_default`` connection at the simulator
with the spec's rate, runs the scenario, and writes its numbers with the process's peak RSS.

Peak RSS is ``VmHWM`` of ``/proc/self/status``: the high-water mark of this process image alone.
(``ru_maxrss`` would not do: Linux carries it over ``execve`` from the process that spawned us.)
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time
from pathlib import Path
from typing import Any

API_KEY_ENV = "BENCH_PLOOMES_API_KEY"
CONNECTION_ENV = "AIRFLOW_CONN_PLOOMES_DEFAULT"


def peak_rss_mb() -> float:
    """This process image's peak resident set size, in MiB."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux


def current_rss_mb() -> float:
    """Resident set size now, in MiB."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return 0.0


def run(spec: dict[str, Any]) -> dict[str, Any]:
    """Configure the connection, import the sync, run the scenario, measure."""
    api_key = os.environ[API_KEY_ENV]
    os.environ[CONNECTION_ENV] = json.dumps({
        "conn_type": "ploomes", "host": spec["sim_url"], "password": api_key,
        "extra": {"requests_per_minute": spec["requests_per_minute"]},
    })
    began = time.perf_counter()
    from bench import scenarios  # imports Airflow: counted in the RSS after imports, not in the timings
    from ploomes_sync.api.reader import PageReader

    imported = {"import_seconds": time.perf_counter() - began, "rss_after_import_mb": current_rss_mb()}
    if spec.get("without"):  # a reader refinement turned off, to measure what it buys
        if not isinstance(getattr(PageReader, spec["without"], None), bool):
            raise ValueError(f"PageReader has no refinement {spec['without']!r} to turn off")
        setattr(PageReader, spec["without"], False)
    cpu_before = time.process_time()
    result = scenarios.SCENARIOS[spec["kind"]]({**spec, "api_key": api_key})
    result["worker_cpu_seconds"] = time.process_time() - cpu_before  # all threads, verification excluded
    result.update(imported)
    result["peak_rss_mb"] = peak_rss_mb()
    result["load_average"] = list(os.getloadavg())
    return result


def main(argv: list[str]) -> int:
    spec_path, result_path = Path(argv[0]), Path(argv[1])
    result = run(json.loads(spec_path.read_text()))  # a failure exits non-zero with its traceback in the log
    result_path.write_text(json.dumps(result, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

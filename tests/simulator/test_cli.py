"""``python -m ploomes_simulator``: starts, logs its URL, serves, stops cleanly on SIGTERM."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator

import pytest
import requests

URL_RE = re.compile(r"ready at (http://127\.0\.0\.1:\d+)")


@pytest.fixture
def cli() -> Iterator[tuple[subprocess.Popen[str], str]]:
    env = {**os.environ, "PLOOMES_SIMULATOR_API_KEY": "env-key"}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ploomes_simulator",
            "--port",
            "0",
            "--deals",
            "40",
            "--contacts",
            "5",
            "--rate-limit",
            "0",
        ],
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    found: list[str] = []
    lines: list[str] = []

    def read() -> None:
        assert process.stderr is not None
        for line in process.stderr:
            lines.append(line)
            match = URL_RE.search(line)
            if match and not found:
                found.append(match.group(1))

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    for _ in range(300):
        if found or process.poll() is not None:
            break
        threading.Event().wait(0.1)
    try:
        assert found, "".join(lines)
        yield process, found[0]
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)


def test_serves_with_the_key_from_the_environment_and_stops_on_sigterm(
    cli: tuple[subprocess.Popen[str], str],
) -> None:
    process, url = cli
    with requests.Session() as session:
        session.trust_env = False
        assert session.get(f"{url}/Deals", headers={"User-Key": "env-key"}, timeout=10).status_code == 200
        assert session.get(f"{url}/Deals", headers={"User-Key": "other"}, timeout=10).status_code == 403
        assert len(session.get(f"{url}/_admin/truth/deals", timeout=10).json()) == 40
    process.send_signal(signal.SIGTERM)
    assert process.wait(15) == 0


def test_help_documents_the_options_and_the_demo_key() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "ploomes_simulator", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    for option in (
        "--api-key",
        "--rate-limit",
        "--no-retry-after",
        "--no-count",
        "--auth-status",
        "--slow-seconds",
    ):
        assert option in result.stdout
    assert "PLOOMES_SIMULATOR_API_KEY" in result.stdout and "ploomes-simulator-demo-key" in result.stdout

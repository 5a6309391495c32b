"""What the production-path tests share: a Redis broker, TLS material, free ports."""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ploomes_devkit.airflow_standalone import free_port

LOCAL_REDIS = ("127.0.0.1", 6379)


def answers(host: str, port: int, probe: bytes = b"PING\r\n", expect: bytes = b"+PONG") -> bool:
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=2) as sock:
        sock.sendall(probe)
        return sock.recv(64).startswith(expect)
    return False


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """The Redis at 127.0.0.1:6379 when it answers (its database 9), else one this session starts."""
    if answers(*LOCAL_REDIS):
        yield "redis://127.0.0.1:6379/9"
        return
    binary = shutil.which("redis-server")
    assert binary, "No Redis answers at 127.0.0.1:6379 and redis-server is not installed (apt-get install redis-server)"
    port = free_port()
    workdir = Path(tempfile.mkdtemp(prefix="ploomes-redis-"))
    process = subprocess.Popen([binary, "--bind", "127.0.0.1", "--port", str(port), "--save", "",
                                "--appendonly", "no", "--dir", str(workdir)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while not answers("127.0.0.1", port):
            assert process.poll() is None and time.monotonic() < deadline, "redis-server did not start"
            time.sleep(0.1)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        process.wait(timeout=30)
        shutil.rmtree(workdir, ignore_errors=True)

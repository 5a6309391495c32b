"""The Ploomes simulator as a separate process on a free loopback port, for the demo and e2e tests.

    with SimulatorProcess(deals=600, api_key="k") as sim:
        sim.url                 # http://127.0.0.1:<port>
        sim.admin.truth_deals() # the simulator's admin client

It runs ``python -m ploomes_simulator`` in a session of its own (a Ctrl-C in the terminal reaches
only the caller), waits until ``/_admin/health`` answers, and on exit stops it with SIGTERM (the
simulator's clean shutdown), then SIGKILL when it does not go.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import IO

import requests

from ploomes_devkit.airflow_standalone import end_session, free_port, local_get
from ploomes_simulator import AdminClient

DEFAULT_READY_TIMEOUT = 180.0  # generating 30,000 deals takes a few seconds on a busy machine
_ADDRESS_IN_USE = ("Address already in use", "Errno 98")


class SimulatorError(RuntimeError):
    """The simulator did not start or stopped unexpectedly."""


class SimulatorProcess:
    """``python -m ploomes_simulator`` on ``127.0.0.1`` (a free port unless ``port`` is given)."""

    def __init__(
        self,
        *,
        deals: int = 30_000,
        contacts: int | None = None,
        seed: int | None = None,
        api_key: str | None = None,
        rate_limit: int | None = None,
        port: int | None = None,
        log_path: Path | None = None,
        ready_timeout: float = DEFAULT_READY_TIMEOUT,
        log_level: str = "WARNING",
        access_log: bool = False,
    ) -> None:
        self.log_level, self.access_log = log_level, access_log
        self.deals, self.contacts, self.seed, self.rate_limit = deals, contacts, seed, rate_limit
        self.api_key = api_key or f"sim-{secrets.token_hex(16)}"
        self.requested_port = port
        self.port = 0
        self.log_path = log_path
        self.ready_timeout = ready_timeout
        self.process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self._own_log = False

    @property
    def url(self) -> str:
        """Base URL of the API (and of ``/_admin``)."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def admin(self) -> AdminClient:
        """The simulator's admin client (truth, config, request log, faults)."""
        return AdminClient(self.url)

    def command(self) -> list[str]:
        """The command line that serves the simulator on ``self.port``."""
        args = [sys.executable, "-m", "ploomes_simulator", "--host", "127.0.0.1", "--port", str(self.port),
                "--deals", str(self.deals), "--api-key", self.api_key, "--log-level", self.log_level,
                *(["--access-log"] if self.access_log else [])]
        for flag, value in (("--contacts", self.contacts), ("--seed", self.seed),
                            ("--rate-limit", self.rate_limit)):
            if value is not None:
                args += [flag, str(value)]
        return args

    def __enter__(self) -> SimulatorProcess:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def start(self) -> None:
        """Start it and wait until it answers; another free port is tried if the chosen one got taken."""
        for attempt in range(3):
            self.port = self.requested_port or free_port()
            self._spawn()
            try:
                self._wait_ready()
                return
            except SimulatorError as err:
                self.stop()
                if self.requested_port or attempt == 2 or not any(s in str(err) for s in _ADDRESS_IN_USE):
                    raise

    def _spawn(self) -> None:
        """Start the process, its output going to ``log_path`` (a temporary file unless given)."""
        if self.log_path is None:  # a file, never a pipe nobody reads: a full pipe would block the server
            handle, name = tempfile.mkstemp(prefix="ploomes-simulator-", suffix=".log")
            os.close(handle)
            self.log_path, self._own_log = Path(name), True
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("ab")
        # the key is passed on the command line of a loopback-only, throwaway process
        self.process = subprocess.Popen(self.command(), stdin=subprocess.DEVNULL, stdout=self._log,
                                        stderr=subprocess.STDOUT, start_new_session=True)

    def _output(self) -> str:
        """The end of the simulator's log."""
        if self.log_path is None:
            return ""
        with contextlib.suppress(OSError):
            return self.log_path.read_text(errors="replace")[-3000:]
        return ""

    def _wait_ready(self) -> None:
        """Wait until ``/_admin/health`` answers 200; fail when the process exits or time runs out."""
        assert self.process is not None
        deadline = time.monotonic() + self.ready_timeout
        while time.monotonic() < deadline:
            code = self.process.poll()
            if code is not None:
                raise SimulatorError(f"The simulator exited with code {code}:\n{self._output()}")
            try:
                if local_get(f"{self.url}/_admin/health", timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.2)
        raise SimulatorError(f"The simulator did not answer on {self.url} within {self.ready_timeout:.0f}s")

    def check_alive(self) -> None:
        """Raise :class:`SimulatorError` when the process has exited."""
        if self.process is not None and self.process.poll() is not None:
            code = self.process.returncode
            raise SimulatorError(f"The simulator exited with code {code}:\n{self._output()}")

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM, wait, then SIGKILL; nothing of it is left afterwards."""
        process, self.process = self.process, None
        if process is not None:
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=timeout)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
            end_session(process.pid, grace=1.0)
        if self._log is not None:
            self._log.close()
            self._log = None
        if self._own_log and self.log_path is not None:
            self.log_path.unlink(missing_ok=True)
            self.log_path, self._own_log = None, False

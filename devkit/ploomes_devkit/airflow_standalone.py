"""A real Airflow 3 "standalone" on loopback, for the demo and the end-to-end tests, and a REST client.

:class:`AirflowStandalone` is a context manager that runs, in a given ``AIRFLOW_HOME`` with a
given environment, what ``airflow standalone`` runs: the metadata database migration (SQLite
unless the environment sets ``AIRFLOW__DATABASE__SQL_ALCHEMY_CONN``; the demo and the tests use
PostgreSQL), then the API server, the scheduler (LocalExecutor), the dag-processor and the
triggerer, with the simple auth manager and its generated ``admin`` password. It starts the four
components itself instead of calling ``airflow standalone`` because the latter cannot be kept on loopback: it starts the
scheduler and the triggerer with their log servers, which always bind every interface on the fixed
ports 8793 and 8794 (no setting changes the address). Here they run with ``--skip-serve-logs``
(every log is a local file anyway) and the API server binds ``127.0.0.1`` on the port given.

    with AirflowStandalone(home, env={"AIRFLOW_CONN_...": "..."}) as airflow:
        api = airflow.client()
        api.wait_for_dag("my_dag")
        api.set_paused("my_dag", False)
        run = api.trigger_dag_run("my_dag")
        api.wait_for_dag_run("my_dag", run["dag_run_id"])

Every component runs in a session of its own (so a Ctrl-C in the terminal reaches only the caller),
its output goes, line by line and prefixed with its name, to one log file, and :meth:`stop` ends
each session completely: SIGTERM, then SIGKILL for whatever is left, task processes included.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import IO, Any

import requests

COMPONENTS = ("api-server", "scheduler", "dag-processor", "triggerer")
HEALTH_COMPONENTS = ("metadatabase", "scheduler", "dag_processor", "triggerer")
FINISHED_RUN_STATES = frozenset({"success", "failed"})
DEFAULT_PREFERRED_PORT = 8080
DEFAULT_PARALLELISM = 4  # LocalExecutor starts this many worker processes up front (default 32)
SIMPLE_AUTH_MANAGER = "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"
PASSWORD_FILE = "simple_auth_manager_passwords.json.generated"
_DROPPED_ENV_PREFIXES = ("AIRFLOW__", "AIRFLOW_CONN_", "AIRFLOW_VAR_")


@dataclass(frozen=True)
class ExtraProcess:
    """Another Airflow process to run beside the four components (e.g. a Celery worker), in a
    working directory of its own and with environment variables of its own on top of the rest."""

    args: tuple[str, ...]  # after ``airflow``
    cwd: Path
    env: Mapping[str, str] = field(default_factory=dict)


class AirflowError(RuntimeError):
    """Airflow did not start, stopped unexpectedly, or did not reach the state waited for."""


class AirflowAPIError(AirflowError):
    """The REST API answered with an unexpected status."""

    def __init__(self, method: str, path: str, status: int, body: str) -> None:
        super().__init__(f"{method} {path} answered {status}: {body[:1000]}")
        self.method, self.path, self.status, self.body = method, path, status, body


# --- ports and environment ---------------------------------------------------------------------


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    """Whether nothing listens on ``host:port`` (and we may bind it)."""
    with socket.socket() as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def free_port(preferred: int | None = None) -> int:
    """``preferred`` when it is free on loopback, else any free loopback port."""
    if preferred and port_is_free(preferred):
        return preferred
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def standalone_env(
    home: Path,
    *,
    port: int,
    dags_folder: Path,
    plugins_folder: Path | None = None,
    parallelism: int = DEFAULT_PARALLELISM,
    extra: Mapping[str, str] | None = None,
    base: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The environment of every component: ``base`` (default: this process's environment) without
    its Airflow settings, connections and variables, the standalone settings, then ``extra``."""
    env = {key: value for key, value in (os.environ if base is None else base).items()
           if not key.startswith(_DROPPED_ENV_PREFIXES) and key != "AIRFLOW_HOME"}
    url = f"http://127.0.0.1:{port}"
    bin_dir = str(Path(sys.executable).parent)
    env.update({
        "AIRFLOW_HOME": str(home),
        "PATH": os.pathsep.join([bin_dir, env.get("PATH", "")]),
        "PYTHONUNBUFFERED": "1",
        "NO_COLOR": "1",
        "AIRFLOW__CORE__DAGS_FOLDER": str(dags_folder),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__PARALLELISM": str(parallelism),
        "AIRFLOW__CORE__AUTH_MANAGER": SIMPLE_AUTH_MANAGER,
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{url}/execution/",
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__API__BASE_URL": url,
        "AIRFLOW__API__WORKERS": "1",
        "AIRFLOW__LOGGING__COLORED_CONSOLE_LOG": "False",
        "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "False",
    })
    if plugins_folder is not None:
        env["AIRFLOW__CORE__PLUGINS_FOLDER"] = str(plugins_folder)
    env.update(extra or {})
    return env


def local_get(url: str, timeout: float) -> requests.Response:
    """GET ``url`` directly (loopback: never through a proxy named in the environment)."""
    with requests.Session() as session:
        session.trust_env = False
        return session.get(url, timeout=timeout)


# --- processes -----------------------------------------------------------------------------------


def _proc_stat(pid: int) -> tuple[str, int] | None:
    """(state, session id) of ``pid`` from /proc, or None when it is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = raw[raw.rindex(")") + 2:].split()
    return fields[0], int(fields[3])


def session_pids(sid: int) -> list[int]:
    """Live (not zombie) processes of session ``sid``."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        stat = _proc_stat(int(entry.name))
        if stat and stat[1] == sid and stat[0] != "Z":
            pids.append(int(entry.name))
    return pids


def end_session(sid: int, grace: float = 5.0) -> None:
    """SIGTERM every process of session ``sid``, then SIGKILL whatever is still there after ``grace``."""
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
        pids = session_pids(sid)
        if not pids:
            return
        for pid in pids:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, sig)
        deadline = time.monotonic() + wait
        while session_pids(sid) and time.monotonic() < deadline:
            time.sleep(0.1)


class _LogPump:
    """Copies processes' output, line by line and prefixed with their names, into one file."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._file = path.open("ab", buffering=0)
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []

    def write(self, name: str, line: bytes) -> None:
        """Append one line, prefixed with ``name``."""
        with self._lock:
            if not self._file.closed:
                self._file.write(f"{name:13}| ".encode() + line.rstrip(b"\n") + b"\n")

    def follow(self, name: str, stream: IO[bytes]) -> None:
        """Copy ``stream`` (a process's output) in a thread until it ends."""
        def pump() -> None:
            with stream:
                for line in stream:
                    self.write(name, line)

        thread = threading.Thread(target=pump, name=f"log-{name}", daemon=True)
        thread.start()
        self._threads.append(thread)

    def close(self) -> None:
        """Wait for the copying threads (their processes are gone), then close the file."""
        for thread in self._threads:
            thread.join(timeout=5)
        with self._lock:
            self._file.close()

    def tail(self, name: str | None = None, lines: int = 40) -> str:
        """The last ``lines`` lines of the log (of component ``name`` when given)."""
        try:
            text = self.path.read_text(errors="replace").splitlines()
        except OSError:
            return ""
        if name is not None:
            text = [line for line in text if line.startswith(f"{name:13}|")]
        return "\n".join(text[-lines:])


# --- the instance --------------------------------------------------------------------------------


class AirflowStandalone:
    """Airflow's four components on loopback in ``home`` (LocalExecutor; SQLite metadata by default).

    ``env`` is added to the environment :func:`standalone_env` builds (connections, variables, any
    ``AIRFLOW__`` setting). ``port`` defaults to 8080 when free, else any free port. The log of every
    component goes to ``log_path`` (default ``home/standalone.log``).
    """

    def __init__(
        self,
        home: Path,
        *,
        dags_folder: Path,
        plugins_folder: Path | None = None,
        env: Mapping[str, str] | None = None,
        port: int | None = None,
        log_path: Path | None = None,
        parallelism: int = DEFAULT_PARALLELISM,
        ready_timeout: float = 300.0,
        stop_timeout: float = 30.0,
        extra_processes: Mapping[str, ExtraProcess] | None = None,
    ) -> None:
        self.home = Path(home).resolve()
        self.port = port or free_port(DEFAULT_PREFERRED_PORT)
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = Path(log_path or self.home / "standalone.log").resolve()
        self.env = standalone_env(self.home, port=self.port, dags_folder=Path(dags_folder).resolve(),
                                  plugins_folder=Path(plugins_folder).resolve() if plugins_folder else None,
                                  parallelism=parallelism, extra=env)
        self.ready_timeout = ready_timeout
        self.stop_timeout = stop_timeout
        self.extra_processes = dict(extra_processes or {})
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self._pump: _LogPump | None = None
        self._client: AirflowClient | None = None
        self._sessions: list[int] = []

    # -- lifecycle --

    def __enter__(self) -> AirflowStandalone:
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

    def _airflow(self, *args: str) -> list[str]:
        """The command line of an Airflow CLI command, with this interpreter."""
        return [sys.executable, "-m", "airflow", *args]

    def start(self) -> None:
        """Migrate the metadata database, start the components, wait until all are healthy."""
        if not port_is_free(self.port):
            raise AirflowError(f"Port {self.port} on 127.0.0.1 is taken; choose another for Airflow's API.")
        self.home.mkdir(parents=True, exist_ok=True)
        self._pump = _LogPump(self.log_path)
        self._pump.write("devkit", f"starting Airflow in {self.home} on {self.url}".encode())
        migrate = subprocess.run(self._airflow("db", "migrate"), env=self.env, cwd=self.home,
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
        for line in migrate.stdout.splitlines():
            self._pump.write("db-migrate", line)
        if migrate.returncode != 0:
            raise AirflowError(f"`airflow db migrate` failed (exit {migrate.returncode}); "
                               f"see {self.log_path}:\n{self._pump.tail('db-migrate')}")
        commands = self._commands()
        launches = [(name, commands[name], self.home, self.env) for name in COMPONENTS]
        for name, extra in self.extra_processes.items():
            extra.cwd.mkdir(parents=True, exist_ok=True)
            launches.append((name, extra.args, extra.cwd, {**self.env, **extra.env}))
        for name, args, cwd, env in launches:
            process = subprocess.Popen(self._airflow(*args), env=env, cwd=cwd,
                                       stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                       stderr=subprocess.STDOUT, start_new_session=True)
            self.processes[name] = process
            self._sessions.append(process.pid)  # start_new_session: the session id is the pid
            assert process.stdout is not None
            self._pump.follow(name, process.stdout)
        self.wait_until_healthy(self.ready_timeout)

    def restart(self, name: str) -> None:
        """Stop component ``name`` (e.g. ``api-server``) and everything it started, then start it again
        with the same command and environment, and wait until Airflow is healthy."""
        process = self.processes[name]
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=self.stop_timeout)
        end_session(process.pid)
        if process.poll() is None:
            process.kill()
        process.wait()
        args = self._commands()[name]
        replacement = subprocess.Popen(self._airflow(*args), env=self.env, cwd=self.home, stdin=subprocess.DEVNULL,
                                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
        self.processes[name] = replacement
        self._sessions.append(replacement.pid)
        assert self._pump is not None and replacement.stdout is not None
        self._pump.write("devkit", f"restarted {name}".encode())
        self._pump.follow(name, replacement.stdout)
        if name == "api-server":  # wait until it answers again (health first says it is down)
            deadline = time.monotonic() + self.ready_timeout
            while self.health() is None and time.monotonic() < deadline:
                self.check_alive()
                time.sleep(0.5)
        self.wait_until_healthy(self.ready_timeout)

    def _commands(self) -> dict[str, tuple[str, ...]]:
        return {
            "api-server": ("api-server", "--host", "127.0.0.1", "--port", str(self.port)),
            "scheduler": ("scheduler", "--skip-serve-logs"),
            "dag-processor": ("dag-processor",),
            "triggerer": ("triggerer", "--skip-serve-logs"),
        }

    def check_alive(self) -> None:
        """Raise :class:`AirflowError` (with the end of its log) when a component has exited."""
        for name, process in self.processes.items():
            code = process.poll()
            if code is not None:
                tail = self._pump.tail(name) if self._pump else ""
                raise AirflowError(f"Airflow's {name} exited with code {code}; see {self.log_path}:\n{tail}")

    def health(self) -> dict[str, Any] | None:
        """``/api/v2/monitor/health``, or None while the API server does not answer."""
        try:
            response = local_get(f"{self.url}/api/v2/monitor/health", timeout=5)
        except requests.RequestException:
            return None
        return response.json() if response.status_code == 200 else None

    def wait_until_healthy(self, timeout: float) -> None:
        """Wait until the database, scheduler, dag-processor and triggerer report healthy."""
        deadline = time.monotonic() + timeout
        last: dict[str, Any] | None = None
        while time.monotonic() < deadline:
            self.check_alive()
            last = self.health()
            if last and all((last.get(key) or {}).get("status") == "healthy" for key in HEALTH_COMPONENTS):
                if Path(self.home, PASSWORD_FILE).exists():
                    return
            time.sleep(1)
        raise AirflowError(f"Airflow was not healthy after {timeout:.0f}s (last health: {last}); "
                           f"see {self.log_path}")

    def stop(self) -> None:
        """Stop every component (SIGTERM, then SIGKILL after ``stop_timeout``) and all they started."""
        order = (*self.extra_processes, "scheduler", "triggerer", "dag-processor", "api-server")
        for name in order:
            process = self.processes.get(name)
            if process is not None and process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    process.send_signal(signal.SIGTERM)
        began = time.monotonic()
        deadline = began + self.stop_timeout
        for name in order:
            process = self.processes.get(name)
            if process is None:
                continue
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            ended = process.poll() is not None
            end_session(process.pid)  # stragglers: executor workers, task processes, log servers
            if process.poll() is None:
                process.kill()
            process.wait()
            if self._pump is not None:
                self._pump.write("devkit", f"{name} {'ended' if ended else 'killed'} "
                                           f"{time.monotonic() - began:.1f} s after SIGTERM".encode())
        self.processes.clear()
        if self._pump is not None:
            self._pump.write("devkit", b"stopped")
            self._pump.close()
            self._pump = None
        if self._client is not None:
            self._client.close()
            self._client = None

    def leftover_pids(self) -> list[int]:
        """Processes of this instance still alive (empty after :meth:`stop`)."""
        return [pid for sid in self._sessions for pid in session_pids(sid)]

    # -- access --

    @property
    def username(self) -> str:
        """The simple auth manager's user (``[core] simple_auth_manager_users = admin:admin``)."""
        return "admin"

    @property
    def password(self) -> str:
        """The simple auth manager's generated password of ``admin``."""
        return json.loads(Path(self.home, PASSWORD_FILE).read_text())[self.username]

    @property
    def password_file(self) -> Path:
        """Where the simple auth manager keeps the generated passwords."""
        return self.home / PASSWORD_FILE

    def client(self) -> AirflowClient:
        """A REST API client logged in as ``admin`` (one per instance)."""
        if self._client is None:
            self._client = AirflowClient(self.url, self.username, self.password)
        return self._client

    def task_log_files(self, dag_id: str, run_id: str, task_id: str) -> list[Path]:
        """The task's log files under ``home/logs`` (one per try)."""
        folder = self.home / "logs" / f"dag_id={dag_id}" / f"run_id={run_id}" / f"task_id={task_id}"
        return sorted(folder.glob("attempt=*.log")) if folder.exists() else []


# --- REST API ------------------------------------------------------------------------------------


class AirflowClient:
    """A small client of Airflow's REST API v2, authenticated with a JWT from ``POST /auth/token``."""

    def __init__(self, url: str, username: str, password: str, timeout: float = 60.0) -> None:
        self.url = url.rstrip("/")
        self.username, self._password = username, password
        self.timeout = timeout
        self._session = requests.Session()
        self._session.trust_env = False  # loopback: never through a proxy from the environment
        self._token: str | None = None

    def __repr__(self) -> str:
        return f"AirflowClient({self.url!r}, user={self.username!r})"

    def close(self) -> None:
        """Close the HTTP connections."""
        self._session.close()

    def login(self) -> str:
        """A fresh JWT for the user."""
        response = self._session.post(f"{self.url}/auth/token", timeout=self.timeout,
                                      json={"username": self.username, "password": self._password})
        if response.status_code != 201:
            raise AirflowAPIError("POST", "/auth/token", response.status_code, response.text)
        self._token = response.json()["access_token"]
        return self._token

    def request(self, method: str, path: str, *, json_body: Any = None,
                params: Mapping[str, Any] | None = None, ok: tuple[int, ...] = (200, 201, 204)) -> Any:
        """Call ``/api/v2{path}``; the decoded JSON answer (None when empty). Logs in again once on 401."""
        for attempt in (1, 2):
            token = self._token or self.login()
            response = self._session.request(method, f"{self.url}/api/v2{path}", json=json_body,
                                             params=params, headers={"Authorization": f"Bearer {token}"},
                                             timeout=self.timeout)
            if response.status_code == 401 and attempt == 1:
                self._token = None
                continue
            if response.status_code not in ok:
                raise AirflowAPIError(method, path, response.status_code, response.text)
            return response.json() if response.content else None
        raise AssertionError("unreachable")

    # -- DAGs, pools, variables --

    def get_dag(self, dag_id: str) -> dict[str, Any] | None:
        """The DAG, or None when Airflow does not know it (yet)."""
        try:
            return self.request("GET", f"/dags/{dag_id}")
        except AirflowAPIError as err:
            if err.status == 404:
                return None
            raise

    def import_errors(self) -> list[dict[str, Any]]:
        """Files the dag-processor could not import, with their tracebacks."""
        return self.request("GET", "/importErrors", params={"limit": 100})["import_errors"]

    def wait_for_dag(self, dag_id: str, timeout: float = 180.0, poll: float = 2.0,
                     alive: Callable[[], None] | None = None) -> dict[str, Any]:
        """Wait until the dag-processor has parsed the DAG; fail early on its file's import error."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if alive is not None:
                alive()
            dag = self.get_dag(dag_id)
            if dag is not None and not dag.get("has_import_errors"):
                return dag
            errors = self.import_errors()
            if errors:
                details = "\n\n".join(f"{e['filename']}:\n{e['stack_trace']}" for e in errors)
                raise AirflowError(f"The DAG files have import errors:\n{details}")
            time.sleep(poll)
        raise AirflowError(f"DAG {dag_id} did not appear within {timeout:.0f}s")

    def set_paused(self, dag_id: str, paused: bool) -> dict[str, Any]:
        """Pause or unpause the DAG."""
        return self.request("PATCH", f"/dags/{dag_id}", json_body={"is_paused": paused},
                            params={"update_mask": "is_paused"})

    def _exists(self, path: str) -> bool:
        """Whether ``GET path`` finds something."""
        try:
            self.request("GET", path)
        except AirflowAPIError as err:
            if err.status == 404:
                return False
            raise
        return True

    def set_pool(self, name: str, slots: int, description: str = "") -> dict[str, Any]:
        """Create the pool, or set its slots and description when it exists.

        (A PATCH must carry the whole pool, ``update_mask`` or not; a POST of an existing pool
        answers 409 and logs an IntegrityError traceback in the API server, so look first.)
        """
        body = {"name": name, "slots": slots, "description": description, "include_deferred": False}
        if not self._exists(f"/pools/{name}"):
            return self.request("POST", "/pools", json_body=body)
        patch = {"pool": name, "slots": slots, "description": description, "include_deferred": False}
        return self.request("PATCH", f"/pools/{name}", json_body=patch)

    def set_variable(self, key: str, value: str, description: str = "") -> dict[str, Any]:
        """Create the Variable, or replace its value when it exists."""
        body = {"key": key, "value": value, "description": description}
        if not self._exists(f"/variables/{key}"):
            return self.request("POST", "/variables", json_body=body)
        return self.request("PATCH", f"/variables/{key}", json_body=body)

    # -- runs --

    def trigger_dag_run(self, dag_id: str, *, conf: dict[str, Any] | None = None, run_id: str | None = None,
                        logical_date: datetime | None = None, note: str | None = None) -> dict[str, Any]:
        """A manual run (``logical_date`` None: a run without a data interval, as the UI makes)."""
        body: dict[str, Any] = {"logical_date": logical_date.isoformat() if logical_date else None,
                                "conf": conf or {}}
        if run_id:
            body["dag_run_id"] = run_id
        if note:
            body["note"] = note
        return self.request("POST", f"/dags/{dag_id}/dagRuns", json_body=body)

    def get_dag_run(self, dag_id: str, run_id: str) -> dict[str, Any]:
        """One run (``state``, ``run_type``, ``data_interval_start``, ``start_date``...)."""
        return self.request("GET", f"/dags/{dag_id}/dagRuns/{run_id}")

    def list_dag_runs(self, dag_id: str, **filters: Any) -> list[dict[str, Any]]:
        """Every run of the DAG, oldest first (``filters``: e.g. ``run_type="backfill"``, ``state="failed"``);
        the API answers 100 at a time."""
        runs: list[dict[str, Any]] = []
        while True:
            page = self.request("GET", f"/dags/{dag_id}/dagRuns",
                                params={"limit": 100, "offset": len(runs), "order_by": "run_after", **filters})
            runs += page["dag_runs"]
            if len(runs) >= page["total_entries"] or not page["dag_runs"]:
                return runs

    def task_instances(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        """The run's task instances (``task_id``, ``state``, ``try_number``, ``max_tries``...)."""
        return self.request("GET", f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances",
                            params={"limit": 100})["task_instances"]

    def task_states(self, dag_id: str, run_id: str) -> dict[str, str | None]:
        """``{task_id: state}`` of the run (None: not scheduled yet)."""
        return {ti["task_id"]: ti["state"] for ti in self.task_instances(dag_id, run_id)}

    def task_log(self, dag_id: str, run_id: str, task_id: str, try_number: int = 1) -> str:
        """The try's log as text (events of the structured log, one a line)."""
        path = f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/logs/{try_number}"
        answer = self.request("GET", path, params={"full_content": "true"})
        lines = []
        for item in answer.get("content", []):
            if isinstance(item, dict):
                fields = (item.get(key) for key in ("timestamp", "level", "event"))
                lines.append(" ".join(str(field) for field in fields if field is not None))
            else:
                lines.append(str(item))
        return "\n".join(lines)

    def wait_for_dag_run(
        self,
        dag_id: str,
        run_id: str,
        *,
        timeout: float = 600.0,
        poll: float = 2.0,
        on_change: Callable[[dict[str, Any], dict[str, str | None]], None] | None = None,
        alive: Callable[[], None] | None = None,
    ) -> dict[str, Any]:
        """Wait until the run succeeds or fails; ``on_change(run, task_states)`` when anything changed."""
        deadline = time.monotonic() + timeout
        seen: tuple[str, dict[str, str | None]] | None = None
        while True:
            if alive is not None:
                alive()
            run = self.get_dag_run(dag_id, run_id)
            states = self.task_states(dag_id, run_id)
            if on_change is not None and (run["state"], states) != seen:
                on_change(run, states)
            seen = (run["state"], states)
            if run["state"] in FINISHED_RUN_STATES:
                return run
            if time.monotonic() > deadline:
                raise AirflowError(f"Run {run_id} of {dag_id} still {run['state']} after {timeout:.0f}s: "
                                   f"{states}")
            time.sleep(poll)

    # -- backfills --

    def create_backfill(self, dag_id: str, from_date: datetime, to_date: datetime, *,
                        max_active_runs: int = 2, reprocess_behavior: str = "none",
                        dag_run_conf: dict[str, Any] | None = None, attempts: int = 5) -> dict[str, Any]:
        """Airflow's own backfill over ``[from_date, to_date]`` (logical dates, both inclusive).

        On SQLite the API answers 503 ("database is locked") when the scheduler holds the database;
        that is retried a few times.
        """
        body = {"dag_id": dag_id, "from_date": from_date.isoformat(), "to_date": to_date.isoformat(),
                "max_active_runs": max_active_runs, "reprocess_behavior": reprocess_behavior,
                "dag_run_conf": dag_run_conf or {}, "run_backwards": False}
        for attempt in range(1, attempts + 1):
            try:
                return self.request("POST", "/backfills", json_body=body)
            except AirflowAPIError as err:
                if err.status != 503 or attempt == attempts:
                    raise
                time.sleep(2 * attempt)
        raise AssertionError("unreachable")

    def list_backfills(self, dag_id: str) -> list[dict[str, Any]]:
        """The DAG's backfills, oldest first."""
        return self.request("GET", "/backfills", params={"dag_id": dag_id, "limit": 100})["backfills"]

    def get_backfill(self, backfill_id: int) -> dict[str, Any]:
        """One backfill (``completed_at`` is set once all its runs finished)."""
        return self.request("GET", f"/backfills/{backfill_id}")

    def wait_for_backfill(self, backfill_id: int, *, timeout: float = 600.0, poll: float = 2.0,
                          alive: Callable[[], None] | None = None) -> dict[str, Any]:
        """Wait until Airflow marks the backfill completed (every one of its runs finished)."""
        deadline = time.monotonic() + timeout
        while True:
            if alive is not None:
                alive()
            backfill = self.get_backfill(backfill_id)
            if backfill.get("completed_at"):
                return backfill
            if time.monotonic() > deadline:
                raise AirflowError(f"Backfill {backfill_id} not completed after {timeout:.0f}s")
            time.sleep(poll)


@contextlib.contextmanager
def running_standalone(home: Path, **options: Any) -> Iterator[AirflowStandalone]:
    """``with running_standalone(home, dags_folder=...) as airflow:`` — :class:`AirflowStandalone`."""
    with AirflowStandalone(home, **options) as airflow:
        yield airflow

"""The HTTP side: a threading HTTP/1.1 server (keep-alive, Content-Length on every answer),
run in a background thread for tests or in the foreground for the CLI.
"""

from __future__ import annotations

import logging
import signal
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import unquote, urlsplit

from .admin import AdminClient
from .config import SimulatorConfig
from .state import ADMIN_PREFIX, JSON_CONTENT_TYPE, Response, SimulatorState, error_response

log = logging.getLogger(__name__)
# One line per request, off unless asked for (``--access-log``): a test's INFO logs stay readable.
access_log = logging.getLogger("ploomes_simulator.access")
access_log.setLevel(logging.WARNING)

IDLE_CONNECTION_TIMEOUT_SECONDS = 120.0
MAX_BODY_BYTES = 64 * 1024 * 1024
THREAD_POLL_SECONDS = 0.05  # how soon a background simulator notices it must stop


class _Handler(BaseHTTPRequestHandler):
    """Routes every method to the state: ``/_admin/...`` to the admin, the rest to the API."""

    protocol_version = "HTTP/1.1"
    server_version = "PloomesSimulator/1.0"
    disable_nagle_algorithm = True
    timeout = IDLE_CONNECTION_TIMEOUT_SECONDS
    server: SimulatorHTTPServer

    def do_GET(self) -> None:
        self._handle()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

    def _handle(self) -> None:
        state = self.server.state
        split = urlsplit(self.path)
        path = unquote(split.path)
        body = self._read_body()
        if body is None:
            return
        try:
            if path == ADMIN_PREFIX or path.startswith(ADMIN_PREFIX + "/"):
                response = state.handle_admin(self.command, path, split.query, body)
            else:
                response = state.handle_api(self.command, path, split.query, self.headers.get("User-Key"), body)
        except Exception:  # a simulator bug: answer 500 and keep its traceback in the log
            log.exception("Unhandled error answering %s %s", self.command, self.path)
            response = error_response(500, "InternalServerError", "Unhandled simulator error (see its log).")
        if response.drop:
            self.close_connection = True
            return
        self._send(response)

    def _read_body(self) -> bytes | None:
        length_header = self.headers.get("Content-Length")
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            self.close_connection = True
            self._send(error_response(411, "LengthRequired", "Send a Content-Length, not a chunked body."))
            return None
        try:
            length = int(length_header) if length_header else 0
        except ValueError:
            length = -1
        if length < 0 or length > MAX_BODY_BYTES:
            self.close_connection = True
            self._send(error_response(400, "BadRequest", "Invalid Content-Length."))
            return None
        return self.rfile.read(length) if length else b""

    def _send(self, response: Response) -> None:
        self.send_response(response.status)
        self.send_header("Content-Type", JSON_CONTENT_TYPE)
        self.send_header("Content-Length", str(len(response.body)))
        for name, value in response.headers.items():
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if response.drip <= 0:
            self.wfile.write(response.body)
            return
        for at in range(len(response.body)):  # a byte at a time, each a while after the last
            self.wfile.write(response.body[at:at + 1])
            self.wfile.flush()
            if self.server.stopping.wait(response.drip):
                return

    def version_string(self) -> str:
        return self.server_version

    def log_message(self, format: str, *args: Any) -> None:
        if access_log.isEnabledFor(logging.INFO):
            access_log.info("%s - %s", self.address_string(), format % args)


class SimulatorHTTPServer(ThreadingHTTPServer):
    """A ThreadingHTTPServer holding the simulator state; it can close its open connections."""

    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True

    def __init__(self, config: SimulatorConfig) -> None:
        if ":" in config.host:
            self.address_family = socket.AF_INET6
        self.state = SimulatorState(config)
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        self.stopping = threading.Event()  # set when the server stops: a dribbling answer ends
        super().__init__((config.host, config.port), _Handler)
        self.state.base_url = self.url

    @property
    def url(self) -> str:
        """Base URL of the API, e.g. ``http://127.0.0.1:54321``."""
        host, port = self.server_address[:2]
        if isinstance(host, bytes):
            host = host.decode()
        if host in ("", "0.0.0.0", "::"):
            host = "127.0.0.1"
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{port}"

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """Unblock handler threads waiting on idle keep-alive connections."""
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError as exc:
                log.debug("Connection already closed: %s", exc)

    def handle_error(self, request: Any, client_address: Any) -> None:
        log.debug("Connection error with %s", client_address, exc_info=True)


class RunningSimulator:
    """A simulator serving in a background thread; a context manager that stops it on exit."""

    def __init__(self, server: SimulatorHTTPServer) -> None:
        self.server = server
        self.config = server.state.initial
        self.url = server.url
        self.admin = AdminClient(self.url)
        self._thread = threading.Thread(
            target=server.serve_forever, args=(THREAD_POLL_SECONDS,), name="ploomes-simulator", daemon=True
        )
        self._thread.start()

    @property
    def state(self) -> SimulatorState:
        """The in-process state (for tests that need to look inside)."""
        return self.server.state

    def stop(self, timeout: float = 10.0) -> None:
        """Stop serving, close every connection and join the thread."""
        if not self._thread.is_alive():
            return
        self.server.stopping.set()
        self.server.shutdown()
        self.server.close_connections()
        self.server.server_close()
        self._thread.join(timeout)

    def __enter__(self) -> RunningSimulator:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def run_in_thread(config: SimulatorConfig | None = None) -> RunningSimulator:
    """Generate the data, bind (a free port when ``port=0``) and serve in a background thread."""
    server = SimulatorHTTPServer(config or SimulatorConfig())
    running = RunningSimulator(server)
    log.info("Ploomes simulator listening on %s (in a thread)", running.url)
    return running


def serve(config: SimulatorConfig | None = None) -> None:
    """Serve in the foreground until Ctrl-C or SIGTERM."""
    server = SimulatorHTTPServer(config or SimulatorConfig())

    def stop(signum: int, _frame: Any) -> None:
        log.info("Received signal %d, shutting down", signum)
        threading.Thread(target=server.shutdown, daemon=True).start()

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, stop)
    state = server.state
    log.info(
        "Ploomes simulator ready at %s (%d deals, %d contacts, rate limit %d/min)",
        server.url,
        len(state.deals),
        len(state.contacts),
        state.settings.rate_limit,
    )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        log.info("Interrupted, shutting down")
    finally:
        server.close_connections()
        server.server_close()
    log.info("Ploomes simulator stopped")

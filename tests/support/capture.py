"""A plain HTTP server that records what it is sent: "another host" a redirect may point at."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Captured:
    """Every request the server got: its path and headers."""

    url: str
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)

    def headers_seen(self) -> str:
        """Every header line it was sent, as one text (to look for a secret in)."""
        return "\n".join(f"{k}: {v}" for _, headers in self.requests for k, v in headers.items())


@contextmanager
def capturing_server() -> Iterator[Captured]:
    """A server on a free port of 127.0.0.1 answering every GET with an empty list, keeping what it got."""
    captured = Captured("")

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (the standard library's name)
            captured.requests.append((self.path, dict(self.headers.items())))
            body = b'{"value": []}'
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    captured.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield captured
    finally:
        server.shutdown()
        server.server_close()

"""The webhook path outside Airflow: the plugin's app served by uvicorn on loopback, and an applier
loop that does what the AssetWatcher trigger and the ``ploomes_webhook_apply`` DAG do together.

    with ReceiverServer(create_app(pool, key)) as receiver:        # receiver.app_url + "/webhooks"
        with ApplierLoop(apply_once, connect) as applier:           # polls the inbox, applies
            ...

The benchmark measures freshness with these, and the in-process tests drive the receiver over
real HTTP; the end-to-end tests run the same code inside a real Airflow.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any

import psycopg
import uvicorn
from starlette.applications import Starlette
from starlette.routing import Mount

from ploomes_devkit.airflow_standalone import free_port
from ploomes_sync.settings import URL_PREFIX
from ploomes_sync.warehouse import inbox

log = logging.getLogger(__name__)


class ReceiverServer:
    """An ASGI app (the plugin's) mounted at ``prefix``, as the API server mounts it, and served by
    uvicorn in a background thread: ``url`` is the base URL (the app answers at ``url + prefix``)."""

    def __init__(self, app: Any, port: int | None = None, prefix: str = URL_PREFIX) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.app_url = self.url + prefix
        root = Starlette(routes=[Mount(prefix, app=app)])
        self._server = uvicorn.Server(uvicorn.Config(root, host="127.0.0.1", port=self.port, log_level="warning",
                                                     lifespan="off", access_log=False))
        self._thread = threading.Thread(target=self._server.run, name="receiver", daemon=True)

    def __enter__(self) -> ReceiverServer:
        self._thread.start()
        deadline = time.monotonic() + 20
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError(f"uvicorn did not start on port {self.port}")
            time.sleep(0.02)
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._server.should_exit = True
        self._thread.join(10)


class ApplierLoop:
    """Polls the inbox every ``poll_interval`` seconds and calls ``apply_once(run_id)`` when a newer
    event is pending (as the trigger fires and the DAG runs); errors are kept in ``errors``."""

    def __init__(self, apply_once: Callable[[str], Any], connect: Callable[[], psycopg.Connection],
                 poll_interval: float = 1.0) -> None:
        self.apply_once = apply_once
        self.connect = connect
        self.poll_interval = poll_interval
        self.runs = 0
        self.errors: list[BaseException] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="applier", daemon=True)

    def _loop(self) -> None:
        fired = None
        with self.connect() as conn:
            while not self._stop.is_set():
                newest = inbox.high_water(conn)
                if newest is not None and (fired is None or newest > fired):
                    fired = newest
                    self.runs += 1
                    try:
                        self.apply_once(f"webhook__loop_{self.runs}")
                    except Exception as exc:  # noqa: BLE001 - kept for the caller, the loop goes on
                        log.exception("Apply failed")
                        self.errors.append(exc)
                    continue  # look again at once: events may have come meanwhile
                self._stop.wait(self.poll_interval)

    def __enter__(self) -> ApplierLoop:
        self._thread.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._stop.set()
        self._thread.join(60)

"""The health page, its JSON and Prometheus twins, and the chart library's script; all behind the
Airflow login (see :mod:`ploomes_sync.web.auth`)."""

from __future__ import annotations

import logging
from importlib import resources
from typing import Any

import psycopg
from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse

from ploomes_sync.monitoring import metrics
from ploomes_sync.monitoring.report import HealthReport, read_report
from ploomes_sync.settings import DAG_ID, SALES_DB_CONN_ID, WATCHDOG_DAG_ID, WEBHOOK_DAG_ID, WEBHOOK_SETUP_DAG_ID
from ploomes_sync.warehouse.pool import WarehousePool
from ploomes_sync.web.auth import require_reader

log = logging.getLogger(__name__)

SCRIPT = "static/plotly.min.js"
CONTENT_SECURITY_POLICY = ("default-src 'self'; script-src 'self' 'unsafe-inline' 'unsafe-eval'; "
                           "style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; frame-ancestors 'self'")


def stale_after_seconds() -> float:
    """The stale-data bound in force (Variable ``ploomes_sync_config``; the default when unreadable)."""
    from ploomes_sync.config import SyncConfig, load_config

    try:
        return load_config().stale_after.total_seconds()
    except Exception as exc:  # noqa: BLE001 - a broken Variable must not take the health page down
        log.warning("Could not read the sync's configuration (%s): using the default stale bound", exc)
        return SyncConfig().stale_after.total_seconds()


# The health page answers within 3 s when the warehouse cannot be read: half a second for a pooled
# connection, then one of its own (libpq waits 2 s at least) to read the report or to say why not.
POOL_WAIT_SECONDS = 0.5
DIRECT_CONNECT_SECONDS = 2
SYNC_DAGS = (DAG_ID, WEBHOOK_DAG_ID, WEBHOOK_SETUP_DAG_ID, WATCHDOG_DAG_ID)


class WarehouseUnreadable(Exception):
    """The health report could not be read: ``cause`` says why, ``checks`` what to look at."""

    def __init__(self, cause: str, checks: list[str]) -> None:
        super().__init__(cause)
        self.cause, self.checks = cause, checks


def _unreadable(exc: BaseException) -> WarehouseUnreadable:
    from ploomes_sync.secrets import redact
    from ploomes_sync.warehouse.errors import WarehouseRefused

    if isinstance(exc, psycopg.errors.UndefinedTable | psycopg.errors.InvalidSchemaName):
        return WarehouseUnreadable(
            f"The warehouse has no health record yet ({' '.join(str(exc).split())}).",
            ["Trigger ploomes_sales_sync once: its first task makes the sync's tables (schema ploomes_sync).",
             f"Check that connection {SALES_DB_CONN_ID!r} names the warehouse the sync writes to."])
    if isinstance(exc, WarehouseRefused):
        cause = f"connection {exc.conn_id!r}: {exc.cause}"
    else:
        cause = f"{type(exc).__name__}: {' '.join(str(exc).split())}"
    return WarehouseUnreadable(redact(cause), [
        f"Connection {SALES_DB_CONN_ID!r} (Admin > Connections, or AIRFLOW_CONN_{SALES_DB_CONN_ID.upper()}): its "
        "host, port, database (the schema field), login and password.",
        "That the database is up and reachable from the API server (a pooler or a firewall in between).",
        "On Supabase: the pooler's login is postgres.<project-ref> and TLS is required (docs/production.md)."])


def read_health(pool: WarehousePool) -> HealthReport:
    """The health report, or :class:`WarehouseUnreadable` saying why not, within 3 seconds."""
    from psycopg_pool import PoolTimeout

    from ploomes_sync.connections import ConnectionMissing
    from ploomes_sync.warehouse.connection import connect
    from ploomes_sync.warehouse.errors import WarehouseRefused

    unreadable = (psycopg.Error, ConnectionMissing, WarehouseRefused)
    bound = stale_after_seconds()
    try:
        with pool.connection(timeout=POOL_WAIT_SECONDS) as conn:
            return read_report(conn, stale_after_seconds=bound)
    except PoolTimeout:
        pass  # no pooled connection in time: one of its own reads the report, or says why not
    except unreadable as exc:
        raise _unreadable(exc) from exc
    try:
        with connect(SALES_DB_CONN_ID, connect_timeout=DIRECT_CONNECT_SECONDS, autocommit=True,
                     prepare_threshold=None) as conn:
            return read_report(conn, stale_after_seconds=bound)
    except unreadable as exc:
        raise _unreadable(exc) from exc


def health_router(pool: WarehousePool) -> APIRouter:
    router = APIRouter(dependencies=[Depends(require_reader)])

    @router.get("/health", response_class=HTMLResponse)
    def health_page(request: Request, dag_id: str | None = None) -> HTMLResponse:
        from ploomes_sync.web.render import render_not_a_sync, render_page, render_unreadable

        headers = {"Content-Security-Policy": CONTENT_SECURITY_POLICY, "Cache-Control": "no-store"}
        if dag_id and dag_id not in SYNC_DAGS:  # the DAG tab, shown by Airflow on every DAG
            return HTMLResponse(render_not_a_sync(dag_id, SYNC_DAGS), headers=headers)
        try:
            report = read_health(pool)
        except WarehouseUnreadable as exc:
            log.error("Health page: the warehouse could not be read: %s", exc.cause)
            return HTMLResponse(render_unreadable(exc.cause, exc.checks), status_code=503, headers=headers)
        return HTMLResponse(render_page(report, script_url=SCRIPT, json_url="health.json", metrics_url="metrics"),
                            headers=headers)

    @router.get("/health.json")
    def health_json() -> JSONResponse:
        try:
            report = read_health(pool)
        except WarehouseUnreadable as exc:
            return JSONResponse({"detail": exc.cause, "checks": exc.checks}, status_code=503,
                                headers={"Cache-Control": "no-store"})
        return JSONResponse(report.as_dict(), headers={"Cache-Control": "no-store"})

    @router.get("/metrics")
    def prometheus() -> Response:
        try:
            text = metrics.render(read_health(pool))
        except WarehouseUnreadable as exc:
            log.error("Metrics: the warehouse could not be read: %s", exc.cause)
            text = metrics.render_unreadable()
        return Response(text, media_type=metrics.CONTENT_TYPE, headers={"Cache-Control": "no-store"})

    @router.get("/" + SCRIPT)
    def script() -> Response:
        body = _plotly_script()
        return Response(body, media_type="text/javascript", headers={"Cache-Control": "private, max-age=86400"})

    return router


def _plotly_script(cache: dict[str, Any] = {}) -> bytes:  # noqa: B006 - a process-wide cache on purpose
    if "body" not in cache:
        cache["body"] = (resources.files("plotly") / "package_data" / "plotly.min.js").read_bytes()
    return cache["body"]

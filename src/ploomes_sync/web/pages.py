"""The health page, its JSON and Prometheus twins, and the chart library's script; all behind the
Airflow login (see :mod:`ploomes_sync.web.auth`)."""

from __future__ import annotations

import logging
from importlib import resources
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse

from ploomes_sync.monitoring import metrics
from ploomes_sync.monitoring.report import HealthReport, read_report
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


def health_router(pool: WarehousePool) -> APIRouter:
    router = APIRouter(dependencies=[Depends(require_reader)])

    def report() -> HealthReport:
        try:
            with pool.connection() as conn:
                return read_report(conn, stale_after_seconds=stale_after_seconds())
        except Exception as exc:
            log.error("Health report unavailable: %s: %s", type(exc).__name__, exc)
            detail = (f"The warehouse could not be read ({type(exc).__name__}); check connection sales_db "
                      "and that the sync's migrations ran (trigger the sync DAG once).")
            raise HTTPException(503, detail) from exc

    @router.get("/health", response_class=HTMLResponse)
    def health_page(request: Request) -> HTMLResponse:
        from ploomes_sync.web.render import render_page  # pandas, plotly: only where the page is drawn

        html = render_page(report(), script_url=SCRIPT, json_url="health.json", metrics_url="metrics")
        return HTMLResponse(html, headers={"Content-Security-Policy": CONTENT_SECURITY_POLICY,
                                           "Cache-Control": "no-store"})

    @router.get("/health.json")
    def health_json() -> JSONResponse:
        return JSONResponse(report().as_dict(), headers={"Cache-Control": "no-store"})

    @router.get("/metrics")
    def prometheus() -> Response:
        return Response(metrics.render(report()), media_type=metrics.CONTENT_TYPE,
                        headers={"Cache-Control": "no-store"})

    @router.get("/" + SCRIPT)
    def script() -> Response:
        body = _plotly_script()
        return Response(body, media_type="text/javascript", headers={"Cache-Control": "private, max-age=86400"})

    return router


def _plotly_script(cache: dict[str, Any] = {}) -> bytes:  # noqa: B006 - a process-wide cache on purpose
    if "body" not in cache:
        cache["body"] = (resources.files("plotly") / "package_data" / "plotly.min.js").read_bytes()
    return cache["body"]

"""The FastAPI app the Airflow plugin mounts at ``/ploomes-sync`` on the API server.

    POST /ploomes-sync/webhooks      Ploomes' deliveries (open, guarded by the validation key)
    GET  /ploomes-sync/health        the health page (the UI shows it in its navigation and as a
                                     tab of the DAG)
    GET  /ploomes-sync/health.json   the same facts as JSON
    GET  /ploomes-sync/metrics       the same facts as Prometheus text
Every route but the receiver requires an Airflow login allowed to read the sync DAG. The app has
no OpenAPI page of its own (it would be open too).
"""

from __future__ import annotations

from fastapi import FastAPI, HTTPException, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import RedirectResponse, Response

from ploomes_sync.settings import URL_PREFIX
from ploomes_sync.warehouse.pool import WarehousePool
from ploomes_sync.web.auth import login_url
from ploomes_sync.web.pages import health_router
from ploomes_sync.webhooks.receiver import WebhookKey, receiver_router

__all__ = ["URL_PREFIX", "create_app"]


def create_app(pool: WarehousePool | None = None, key: WebhookKey | None = None) -> FastAPI:
    """The app; ``pool`` and ``key`` default to those of connections ``sales_db`` and ``ploomes_webhook``."""
    pool = pool or WarehousePool()
    app = FastAPI(title="ploomes-sync", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.pool = pool
    app.include_router(receiver_router(pool, key))
    app.include_router(health_router(pool))

    @app.exception_handler(HTTPException)
    async def login_first(request: Request, exc: HTTPException) -> Response:
        """A browser asking for the page without a login goes to the login page (JSON clients get 401)."""
        if (exc.status_code == 401 and request.url.path.endswith("/health")
                and "text/html" in request.headers.get("accept", "")):
            return RedirectResponse(login_url(request), status_code=303)
        return await http_exception_handler(request, exc)

    return app

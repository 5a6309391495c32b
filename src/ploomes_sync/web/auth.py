"""Only Airflow users who may read the sync DAG see what the plugin serves.

Airflow does not authenticate plugin apps: each route here asks the auth manager itself, with the
credential the UI holds (its ``_token`` cookie, which the browser sends to the page in the UI's
iframe) or a ``Authorization: Bearer`` token (from ``POST /auth/token``, for monitoring). No
credential, or an expired one: 401; a token the auth manager refuses, or a user without read
access to the DAG's runs: 403. The HTML page sends a browser without a login to the login page.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPBearer

from ploomes_sync.settings import DAG_ID

_bearer = HTTPBearer(auto_error=False)


async def require_reader(request: Request) -> Any:
    """The Airflow user, when the request carries a valid login allowed to read the DAG's runs."""
    from airflow.api_fastapi.auth.managers.models.resource_details import DagAccessEntity
    from airflow.api_fastapi.core_api.security import get_user, requires_access_dag

    credentials = await _bearer(request)
    user = await get_user(request, _oauth_token=None, bearer_credentials=credentials)
    check = requires_access_dag("GET", DagAccessEntity.RUN, param_dag_id=DAG_ID)
    await run_in_threadpool(check, request, user)  # reads the DAG's team from the metadata database
    return user


def login_url(request: Request) -> str:
    """The auth manager's login page, coming back to this request's URL."""
    from airflow.api_fastapi.app import get_auth_manager

    return get_auth_manager().get_url_login(next_url=str(request.url))


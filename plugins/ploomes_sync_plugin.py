"""The ploomes-sync Airflow plugin: the sync's web app on the API server, and its page in the UI.

- ``fastapi_apps``: :func:`ploomes_sync.web.app.create_app` mounted at ``/ploomes-sync`` (the
  webhook receiver, the health page, its JSON and Prometheus endpoints).
- ``external_views``: the health page in the UI's navigation (Browse menu) and as a tab of the DAGs
  (the UI shows a plugin page with a ``url_route`` inside itself, at ``/plugin/<url_route>``).
"""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from ploomes_sync.web.app import URL_PREFIX, create_app

HEALTH_URL = f"{URL_PREFIX}/health"


class PloomesSyncPlugin(AirflowPlugin):
    name = "ploomes_sync"
    fastapi_apps = [{"app": create_app(), "url_prefix": URL_PREFIX, "name": "Ploomes sync"}]
    external_views = [
        {"name": "Ploomes sync health", "href": HEALTH_URL, "destination": "nav", "category": "browse",
         "url_route": "ploomes-sync-health"},
        # Airflow shows a DAG tab on every DAG: the page gets the DAG's id, and on a DAG that is not
        # the sync's says so in one line
        {"name": "Sync health", "href": f"{HEALTH_URL}?dag_id={{DAG_ID}}", "destination": "dag",
         "url_route": "ploomes-sync-dag-health"},
    ]

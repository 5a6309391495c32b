"""Provider entry point: makes the "ploomes" connection type appear in Airflow's connection form.

The form is declared here (``conn-fields``, ``ui-field-behaviour``), the way Airflow 3.2+ reads
it, so the UI needs no import of the hook and no web-form libraries.
"""

from __future__ import annotations

from typing import Any

from ploomes_sync import settings

CONNECTION_TYPE: dict[str, Any] = {
    "connection-type": "ploomes",
    "hook-class-name": "ploomes_sync.hooks.ploomes.PloomesHook",
    "ui-field-behaviour": {
        "hidden-fields": ["schema", "login", "port"],
        "relabeling": {"host": "Base URL", "password": "API key (User-Key)"},
        "placeholders": {
            "host": settings.DEFAULT_BASE_URL,
            "password": "User-Key of an integration user",
        },
    },
    "conn-fields": {
        "requests_per_minute": {
            "label": "Requests per minute",
            "description": "The account-wide API budget (every key and app of the account shares it).",
            "schema": {"type": ["integer", "null"], "minimum": 1,
                       "default": settings.DEFAULT_REQUESTS_PER_MINUTE},
        },
        "page_size": {
            "label": "Page size",
            "description": f"Records asked per request; the API never returns more than {settings.MAX_PAGE_SIZE}.",
            "schema": {"type": ["integer", "null"], "minimum": 1, "maximum": settings.MAX_PAGE_SIZE,
                       "default": settings.DEFAULT_PAGE_SIZE},
        },
    },
}


def get_provider_info() -> dict[str, Any]:
    """What Airflow's providers manager reads from the ``apache_airflow_provider`` entry point."""
    return {
        "package-name": "ploomes-sync",
        "name": "Ploomes",
        "description": "Ploomes CRM: a hook with keyset paging, rate limiting and clear 403 errors.",
        "versions": ["0.1.0"],
        "connection-types": [CONNECTION_TYPE],
    }

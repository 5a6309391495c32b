"""Provider entry point: makes the "ploomes" connection type appear in Airflow's connection form."""

from __future__ import annotations

from typing import Any


def get_provider_info() -> dict[str, Any]:
    """What Airflow's providers manager reads from the ``apache_airflow_provider`` entry point."""
    return {
        "package-name": "ploomes-sync",
        "name": "Ploomes",
        "description": "Ploomes CRM: a hook with keyset paging, rate limiting and clear 403 errors.",
        "versions": ["0.1.0"],
        "connection-types": [
            {"connection-type": "ploomes", "hook-class-name": "ploomes_sync.hooks.ploomes.PloomesHook"},
        ],
    }

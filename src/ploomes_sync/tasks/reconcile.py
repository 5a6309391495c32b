"""The reconcile: rows Ploomes no longer has leave ``public`` (archived), under the mass-deletion guard."""

from __future__ import annotations

import logging
from typing import Any

import psycopg
from airflow.sdk.exceptions import AirflowSkipException

from ploomes_sync import warehouse
from ploomes_sync.config import SyncConfig
from ploomes_sync.guards import deletion_guard
from ploomes_sync.plan import RunPlan
from ploomes_sync.streams import Registry, registry

log = logging.getLogger(__name__)


def reconcile_deletions(plan: RunPlan, *, conn: psycopg.Connection, config: SyncConfig,
                        streams: Registry | None = None) -> dict[str, Any]:
    """Archive and remove, stream by stream, the rows this run's listings show gone from Ploomes.

    A mass deletion fails the task with :class:`MassDeletionRefused` (nothing is removed) unless
    the run was triggered with ``confirm_mass_deletion``. Skipped (``AirflowSkipException``) when the
    run lists nothing.
    """
    if not has_listing(plan):
        raise AirflowSkipException("No listing this run (listing_every_hours): deletions wait for the next one.")
    done: dict[str, Any] = {}
    for stream in streams or registry(config.client_tag_id, config.quote_entity_id):
        listing = warehouse.get_listing(conn, plan.run_id, stream.name)
        if listing is None:
            continue
        guard = deletion_guard(stream, config, confirmed=plan.confirm_mass_deletion)
        result = warehouse.reconcile(conn, stream, listing, guard)
        warehouse.record_stream(conn, plan.run_id, stream.name, deleted=result.archived)
        done[stream.name] = {"scope": result.scope, "judged": result.judged, "gone": result.gone,
                             "deleted": result.archived,
                             "refused": result.refused}
        log.info("%s: %s rows judged by the %s listing, %s gone from Ploomes, %s archived%s", stream.name,
                 result.judged, listing.method, result.gone, result.archived,
                 f" (nothing deleted: {result.refused})" if result.refused else "")
    return done


def has_listing(plan: RunPlan) -> bool:
    """Whether this run lists any stream (by its extract or by the listing task)."""
    return any(own.listing != "none" for own in plan.streams.values())

"""The guards that fail a run rather than let bad input through: too many rejects, a mass deletion.

Both are configured in ``SyncConfig``; the scheduled sync and the webhook applier use the same ones.
"""

from __future__ import annotations

import logging
from typing import Any

from ploomes_sync.config import SyncConfig
from ploomes_sync.errors import MassDeletionRefused, TooManyRejects
from ploomes_sync.streams import Stream
from ploomes_sync.warehouse.reconcile import Guard

log = logging.getLogger(__name__)


def check_rejects(stream_name: str, counts: dict[str, Any], run_id: str, config: SyncConfig) -> None:
    """Fail with :class:`TooManyRejects` when a read set aside more records than allowed."""
    if config.too_many_rejects(counts["rejected"], counts["fetched"]):
        # The message shows the user a query to run; it is never executed (hence the noqa).
        raise TooManyRejects(
            f"{counts['rejected']} of {counts['fetched']} {stream_name} records were rejected, above the "  # noqa: S608
            f"threshold (more than {config.reject_allowance} and {config.max_reject_ratio:.1%}). Nothing was "
            f"loaded or deleted and the watermark did not move. See: SELECT record_id, reason FROM "
            f"ploomes_sync.rejects WHERE run_id = '{run_id}' AND stream = '{stream_name}'; fix the records "
            "in Ploomes, or raise max_reject_ratio / reject_allowance in the ploomes_sync_config Variable."
        )


def deletion_guard(stream: Stream, config: SyncConfig, *, confirmed: bool = False) -> Guard:
    """The mass-deletion guard of ``stream``: raises :class:`MassDeletionRefused` above the limits
    unless ``confirmed`` (the run's ``confirm_mass_deletion``)."""
    def guard(scope: int, judged: int, gone: int) -> None:
        if not gone or not config.too_many_deletions(gone, scope):
            return
        if confirmed:
            log.warning("Removing %s of %s rows of public.%s: above the guard, confirmed by the run's "
                        "confirm_mass_deletion param.", gone, scope, stream.target)
            return
        limits = (f"more than {config.max_deletion_rows} rows, or more than {config.max_deletion_share:.0%} "
                  f"once more than {config.deletion_guard_min_rows} would go")
        raise MassDeletionRefused(stream.name, stream.target, gone, scope, judged, limits)

    return guard

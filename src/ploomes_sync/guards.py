"""The guards that fail a run rather than let bad input through: too many rejects, a mass deletion.

Both are configured in ``SyncConfig``; the scheduled sync and the webhook applier use the same ones.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ploomes_sync.config import SyncConfig
from ploomes_sync.errors import MassDeletionRefused, TooManyRejects
from ploomes_sync.streams import Stream

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


@dataclass(frozen=True)
class DeletionGuard:
    """The mass-deletion guard of ``stream``: above the limits, or every row in scope, it refuses
    (raises :class:`MassDeletionRefused`) unless ``confirmed`` (the run's ``confirm_mass_deletion``)."""

    stream: Stream
    config: SyncConfig
    confirmed: bool = False

    @property
    def limits(self) -> str:
        config = self.config
        return (f"more than {config.max_deletion_rows} rows, more than {config.max_deletion_share:.0%} once more "
                f"than {config.deletion_guard_min_rows} would go, or every row, whatever the table's size")

    def refuses(self, scope: int, gone: int) -> bool:
        """Whether removing ``gone`` of ``scope`` rows is a mass deletion (confirmed or not): an answer
        that lists nothing of a table the warehouse holds rows of is one, whatever its size."""
        return gone > 0 and (gone >= scope or self.config.too_many_deletions(gone, scope))

    def __call__(self, scope: int, judged: int, gone: Sequence[int]) -> None:
        if not self.refuses(scope, len(gone)):
            return
        if self.confirmed:
            log.warning("Removing %s of %s rows of public.%s: above the guard, confirmed by the run's "
                        "confirm_mass_deletion param.", len(gone), scope, self.stream.target)
            return
        raise MassDeletionRefused(self.stream.name, self.stream.target, len(gone), scope, judged, self.limits,
                                  held=gone)


def deletion_guard(stream: Stream, config: SyncConfig, *, confirmed: bool = False) -> DeletionGuard:
    """The mass-deletion guard of ``stream`` (see :class:`DeletionGuard`)."""
    return DeletionGuard(stream, config, confirmed)

"""Failures of the sync that a retry cannot fix: each fails its task at once, with no retry.

    AirflowFailException
    ├── TooManyRejects        a read set aside more records than the threshold allows
    ├── MassDeletionRefused   the reconcile would remove more rows than the guard allows
    └── ValidationMismatch    the warehouse differs from what the run listed
"""

from __future__ import annotations

from collections.abc import Sequence

from airflow.providers.common.compat.sdk import AirflowFailException

HELD_SHOWN = 20  # ids a refusal names in its message


class TooManyRejects(AirflowFailException):
    """More records were rejected than the configured threshold allows."""


class MassDeletionRefused(AirflowFailException):
    """The reconcile would remove more rows than the guard allows; it removed nothing."""

    def __init__(self, stream: str, table: str, gone: int, scope: int, judged: int, limits: str,
                 held: Sequence[int] = ()) -> None:
        self.stream, self.table, self.gone, self.scope, self.judged = stream, table, gone, scope, judged
        self.held = tuple(held)
        share = gone / scope if scope else 1.0
        shown = ", ".join(str(i) for i in self.held[:HELD_SHOWN])
        more = f" and {len(self.held) - HELD_SHOWN} more" if len(self.held) > HELD_SHOWN else ""
        named = (f" The rows held back: ids {shown}{more} (all of them in ploomes_sync.run_history.streams -> "
                 f"'{stream}' -> 'held_back')." if shown else "")
        super().__init__(
            f"Refused to remove {gone} of the {scope} rows of public.{table} ({share:.1%}): the {stream} listing "
            f"judged {judged} rows and did not find {gone} of them in Ploomes, nor did a read by Id, above the "
            f"guard ({limits}). Nothing was deleted.{named} Likely causes: the integration user lost permission "
            "to see part of the "
            f"{stream} (Administração › Integrações › Usuários de integração), a filter or an API fault "
            "hid records from the listing, or someone really deleted them in bulk. Check in Ploomes; if "
            "the deletion is real, trigger the DAG with the param confirm_mass_deletion=true (or raise "
            "max_deletion_rows / max_deletion_share in the ploomes_sync_config Variable)."
        )


class ValidationMismatch(AirflowFailException):
    """The warehouse differs from what the run listed for at least one record."""

    def __init__(self, report: str) -> None:
        self.report = report
        super().__init__(
            f"The warehouse differs from Ploomes:\n{report}\n"
            "The records that differ are in ploomes_sync.suspects: the next run reads them again by Id and "
            "merges what Ploomes shows (the check fails, naming them, while they differ). If they keep "
            "differing, look at ploomes_sync.rejects for records set aside."
        )

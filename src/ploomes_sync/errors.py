"""Failures of the sync that a retry cannot fix: each fails its task at once, with no retry.

    AirflowFailException
    ├── TooManyRejects        a read set aside more records than the threshold allows
    ├── MassDeletionRefused   the reconcile would remove more rows than the guard allows
    └── ValidationMismatch    the warehouse differs from what the run listed
"""

from __future__ import annotations

from airflow.providers.common.compat.sdk import AirflowFailException


class TooManyRejects(AirflowFailException):
    """More records were rejected than the configured threshold allows."""


class MassDeletionRefused(AirflowFailException):
    """The reconcile would remove more rows than the guard allows; it removed nothing."""

    def __init__(self, stream: str, table: str, gone: int, scope: int, judged: int, limits: str) -> None:
        self.stream, self.table, self.gone, self.scope, self.judged = stream, table, gone, scope, judged
        share = gone / scope if scope else 1.0
        super().__init__(
            f"Refused to remove {gone} of the {scope} rows of public.{table} ({share:.1%}): the {stream} listing "
            f"judged {judged} rows and did not find {gone} of them in Ploomes, above the guard ({limits}). "
            "Nothing was deleted. Likely causes: the integration user lost permission to see part of the "
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
            "Run the DAG with full_refresh=true (or a from_date/to_date range over the years concerned); "
            "if the difference stays, look at ploomes_sync.rejects for records set aside."
        )

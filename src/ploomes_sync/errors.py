"""Failures of the sync that a retry cannot fix: each fails its task at once, with no retry.

    AirflowFailException
    ├── TooManyRejects        a read set aside more records than the threshold allows
    ├── MassDeletionRefused   the reconcile would remove more rows than the guard allows
    ├── ValidationMismatch    the warehouse differs from what the run listed
    └── StreamForbidden       one stream's endpoint refused (403 with the key working, or 404)
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from airflow.providers.common.compat.sdk import AirflowFailException

from ploomes_sync.api.errors import PloomesEndpointForbidden
from ploomes_sync.config import CONFIG_VARIABLE

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


class StreamForbidden(AirflowFailException):
    """A stream's endpoint was refused while the key works elsewhere: that stream is not synced, the
    others are, and the run fails until the user gives the permission or leaves the stream out."""

    def __init__(self, stream: str, cause: PloomesEndpointForbidden) -> None:
        from ploomes_sync.streams import registry

        self.stream, self.cause = stream, cause
        others = [name for name in registry().names if name != stream]
        super().__init__(
            f"Stream {stream!r} was not synced: {cause} The other streams are synced; the runs end failed until "
            f"this is settled. Either give the integration user that permission in Ploomes, or leave the stream "
            f'out: set "streams" in the Variable {CONFIG_VARIABLE} to the streams the account uses, e.g. '
            f'{{"streams": {json.dumps(others)}}} (what the sync keeps of it stays as it is and is not checked).'
        )


@contextmanager
def stream_endpoint(stream: str) -> Iterator[None]:
    """Say a refusal of the stream's endpoint (:class:`PloomesEndpointForbidden`) as the stream's."""
    try:
        yield
    except PloomesEndpointForbidden as exc:
        raise StreamForbidden(stream, exc) from exc

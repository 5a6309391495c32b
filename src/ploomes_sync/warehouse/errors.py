"""Exceptions of the warehouse layer.

```
WarehouseError
 ├── ConnectionNotIdle   a transaction (or COPY) is already open on the connection passed in
 ├── StageMissing        the run's staging for a stream is gone or was never written
 ├── MigrationError      the migrations folder cannot be applied as it is
 ├── SqlFileMissing      a statement file is missing from the SQL folder
 └── WarehouseRefused    the warehouse refused the connection's settings (no such database, a login refused)
```

Database errors themselves (``psycopg.Error``) propagate unchanged, after a rollback.
"""

from __future__ import annotations

from airflow.providers.common.compat.sdk import AirflowFailException


class WarehouseError(RuntimeError):
    """Base class of the errors raised by ``ploomes_sync.warehouse``."""


class ConnectionNotIdle(WarehouseError):
    """The connection has a transaction (or a COPY) in progress; commit or roll it back first."""


class StageMissing(WarehouseError):
    """The run has no staging for the stream (purged as stale, cleared, lost in a crash, or never extracted)."""

    def __init__(self, run_id: str, stream: str) -> None:
        self.run_id, self.stream = run_id, stream
        super().__init__(
            f"Run {run_id!r} has no staged {stream!r} rows on record (never staged, cleared, purged as "
            "stale, or emptied by a database crash). Nothing was loaded and no watermark moved: run the "
            "extract task of this run again."
        )


class MigrationError(WarehouseError):
    """The migrations folder holds something that cannot be applied (bad name, repeated version)."""


class SqlFileMissing(WarehouseError):
    """A statement file the warehouse needs is not in the SQL folder."""


class WarehouseRefused(WarehouseError, AirflowFailException):
    """The warehouse refused the connection's settings (no such database, a login refused): a retry gets
    the same answer, so the task fails at once."""

    def __init__(self, conn_id: str, cause: str) -> None:
        self.conn_id, self.cause = conn_id, cause
        super().__init__(
            f"The warehouse of connection {conn_id!r} refused it: {cause}. Check the connection's host, port, "
            "database (its schema field), login and password (Supabase: the pooler's user is "
            "postgres.<project-ref>; see docs/production.md). Not retried."
        )


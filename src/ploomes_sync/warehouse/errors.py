"""Exceptions of the warehouse layer.

```
WarehouseError
 ├── ConnectionNotIdle   a transaction (or COPY) is already open on the connection passed in
 ├── StageMissing        the run's staging for a stream is gone or was never written
 ├── MigrationError      the migrations folder cannot be applied as it is
 └── SqlFileMissing      a statement file is missing from the SQL folder
```

Database errors themselves (``psycopg.Error``) propagate unchanged, after a rollback.
"""

from __future__ import annotations


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

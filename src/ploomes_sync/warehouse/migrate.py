"""Apply ``include/sql/migrations/NNNN_name.sql`` in order, each once, each in its own transaction.

Applied versions are recorded in ``ploomes_sync.schema_migrations``. Every step runs under a
transaction-scoped advisory lock (safe behind a transaction-mode pooler), so concurrent runs
serialize: the second waits, then finds each migration applied and does nothing.

Before any pending migration the helper functions the migrations call (``include/sql/migrate/
helpers.sql``: bringing an older table to the contract in place, keeping the policies and views
over it) are installed anew, so a migration always finds the newest of them.

A fresh database (no ledger rows, none of the contract's public tables, no table of the sync's)
takes the :data:`BASELINE` instead of replaying the migrations it covers: the schema they leave,
written out once in ``include/sql/baseline/``, in one transaction, recorded as those migrations.
Every other database (migrated by this project, or holding an older ``sales``/``customer_sales``
the contract names) takes the numbered path, which conforms what is there without losing a row.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from importlib.resources.abc import Traversable

import psycopg

from ploomes_sync.streams import Registry, registry
from ploomes_sync.warehouse import stream_tables
from ploomes_sync.warehouse.connection import advisory_lock, fetchall, fetchone, transaction
from ploomes_sync.warehouse.errors import MigrationError
from ploomes_sync.warehouse.sqlfiles import load, sql_dir

log = logging.getLogger(__name__)

MIGRATIONS_FOLDER = "migrations"
_FILE_NAME = re.compile(r"(\d{4})_([a-z0-9_]+)\.sql")


@dataclass(frozen=True)
class Migration:
    """One migration file."""

    version: int
    name: str
    file: str  # relative to the SQL folder

    @property
    def label(self) -> str:
        return f"{self.version:04d}_{self.name}"


@dataclass(frozen=True)
class Baseline:
    """What a fresh database gets for migrations 1 to ``version``: these SQL files, in order."""

    version: int
    files: tuple[str, ...]


# The shape 0001 to 0008 leave (the helpers the migrations call are installed before, apart).
BASELINE = Baseline(8, ("baseline/0008_schema.sql",))
HELPERS = "migrate/helpers.sql"  # functions the migrations call: installed anew before any pending migration


def discover(folder: Traversable | None = None) -> list[Migration]:
    """The migrations in ``folder`` (default: the SQL folder's ``migrations``), by version."""
    folder = folder or sql_dir() / MIGRATIONS_FOLDER
    found: dict[int, Migration] = {}
    for path in sorted((entry for entry in folder.iterdir() if entry.name.endswith(".sql")),
                       key=lambda entry: entry.name):
        match = _FILE_NAME.fullmatch(path.name)
        if match is None:
            raise MigrationError(f"Migration file {path.name!r} is not named NNNN_lowercase_name.sql")
        version = int(match.group(1))
        if version in found:
            raise MigrationError(f"Migrations {found[version].file!r} and {path.name!r} share version "
                                 f"{version}")
        found[version] = Migration(version, match.group(2), f"{MIGRATIONS_FOLDER}/{path.name}")
    return [found[version] for version in sorted(found)]


def _log_notice(diagnostic: psycopg.errors.Diagnostic) -> None:
    log.info("%s: %s", diagnostic.severity, diagnostic.message_primary)


def migrate(conn: psycopg.Connection, *, baseline: Baseline | None = BASELINE,
            streams: Registry | None = None) -> list[str]:
    """Apply the pending migrations, then make the streams' own tables as their specs have them
    (:mod:`ploomes_sync.warehouse.stream_tables`); return the migrations' labels
    (``"0003_public_sales"``), in order (a fresh database's include those the baseline stands for).
    ``baseline=None`` replays every migration.

    What a migration changes in an existing table (columns added, converted, renamed) is logged.
    """
    migrations = discover()
    conn.add_notice_handler(_log_notice)
    try:
        applied = _apply(conn, migrations, baseline)
        stream_tables.ensure(conn, streams or registry())
        return applied
    finally:
        conn.remove_notice_handler(_log_notice)


def _apply(conn: psycopg.Connection, migrations: list[Migration], baseline: Baseline | None) -> list[str]:
    with transaction(conn):
        advisory_lock(conn, "migrations")
        conn.execute(load("migrate/bootstrap.sql"), prepare=False)
        done = {row[0] for row in fetchall(conn, load("migrate/applied.sql"))}
    if all(migration.version in done for migration in migrations):
        return []
    with transaction(conn):  # the newest helpers, whatever version installed the ones there
        advisory_lock(conn, "migrations")
        conn.execute(load(HELPERS), prepare=False)
    applied: list[str] = []
    if not done and baseline is not None:
        applied = _apply_baseline(conn, [m for m in migrations if m.version <= baseline.version], baseline)
        done = {m.version for m in migrations if m.label in applied}
    for migration in migrations:
        if migration.version in done:
            continue
        with transaction(conn):
            advisory_lock(conn, "migrations")
            row = fetchone(conn, load("migrate/is_applied.sql"), {"version": migration.version})
            if row is not None and row[0]:
                log.info("Migration %s was applied meanwhile by another run", migration.label)
                continue
            conn.execute(load("migrate/lock_timeout.sql"), prepare=False)
            conn.execute(load(migration.file), prepare=False)
            conn.execute(load("migrate/record.sql"), {"version": migration.version, "name": migration.name},
                         prepare=False)
        log.info("Applied migration %s", migration.label)
        applied.append(migration.label)
    return applied


def _apply_baseline(conn: psycopg.Connection, covered: list[Migration], baseline: Baseline) -> list[str]:
    """The baseline in one transaction, recorded as the migrations it covers; [] when the database
    is not fresh (it takes the numbered path)."""
    with transaction(conn):
        advisory_lock(conn, "migrations")
        row = fetchone(conn, load("migrate/is_fresh.sql"))
        if row is None or not row[0]:
            return []
        conn.execute(load("migrate/lock_timeout.sql"), prepare=False)
        for file in baseline.files:
            conn.execute(load(file), prepare=False)
        for migration in covered:
            conn.execute(load("migrate/record.sql"), {"version": migration.version, "name": migration.name},
                         prepare=False)
    labels = [migration.label for migration in covered]
    log.info("A fresh database: applied the baseline of migrations %s to %s", labels[0], labels[-1])
    return labels

"""The sync's own tables of each stream, made from its spec: its staging, its listing's staging, its
lines' staging and its archive (``ploomes_sync.stage_<name>``, ``stage_<name>_listing``,
``stage_<lines>``, ``<archive>``).

Their columns are the spec's (:mod:`ploomes_sync.streams`), so a new column of a stream needs a line
in its spec and a migration for its ``public`` table only (the contract the dashboards read). Made
when missing, given the columns they lack (never dropping one), in one transaction under the
migrations' lock; a fingerprint of the statements (``ploomes_sync.stream_tables``) spares every
later run the work until the specs change.
"""

from __future__ import annotations

import hashlib
import logging

import psycopg

from ploomes_sync.settings import SYNC_SCHEMA
from ploomes_sync.streams import Registry, Stream
from ploomes_sync.warehouse.connection import advisory_lock, fetchone, fetchrow, transaction
from ploomes_sync.warehouse.sqlfiles import load
from ploomes_sync.warehouse.statements import index_statement, table_statement

log = logging.getLogger(__name__)

Table = tuple[str, tuple[tuple[str, str], ...], bool]  # name, (column, type) in order, staging (unlogged)


def tables(stream: Stream) -> list[Table]:
    """The sync's own tables of ``stream``: name, columns with their types, and whether it is staging."""
    types = {column.name: column.sql_type for column in stream.columns}
    own: list[Table] = [
        (stream.stage, (("run_id", "text NOT NULL"), *((c.name, c.sql_type) for c in stream.columns)), True),
        (stream.listing_stage, (("run_id", "text NOT NULL"), *((name, types[name]) for name in stream.listed)), True),
        (stream.archive, (*((c.name, c.sql_type) for c in stream.columns), ("synced_at", "timestamptz"),
                          ("deleted_at", "timestamptz NOT NULL DEFAULT now()"), ("run_id", "text"),
                          ("row_data", "jsonb NOT NULL")), False),
    ]
    if stream.lines is not None:
        lines = stream.lines
        line_types = {column.name: column.sql_type for column in lines.columns}
        line_types.update({lines.parent_key: "bigint NOT NULL", **{name: types[name] for name in lines.inherited}})
        own.append((lines.stage, (("run_id", "text NOT NULL"), ("parent_updated_at", "timestamptz"),
                                  *((name, line_types[name]) for name in lines.column_names)), True))
    return own


def _indexes(table: Table) -> list[tuple[str, tuple[str, ...]]]:
    """The indexes a table needs (its name, its columns): staging by run and id, an archive by id and
    by when rows were archived."""
    name, _, staging = table
    keys = [("run_id", "id")] if staging else [("id",), ("deleted_at",)]
    return [(f"{name}_{'_'.join(key)}_idx", key) for key in keys]


def ensure(conn: psycopg.Connection, streams: Registry) -> bool:
    """Make every stream's own tables as its spec has them; whether anything was to do."""
    all_tables = [table for stream in streams for table in tables(stream)]
    text = ";\n".join(table_statement(*table).as_string(conn) for table in all_tables) + repr(
        [_indexes(t) for t in all_tables])
    fingerprint = hashlib.sha256(text.encode()).hexdigest()
    with transaction(conn):
        row = fetchone(conn, load("migrate/stream_tables_get.sql"))
    if row is not None and row[0] == fingerprint:
        return False
    with transaction(conn):
        advisory_lock(conn, "migrations")
        for table in all_tables:
            conn.execute(table_statement(*table), prepare=False)
            qualified = f"{SYNC_SCHEMA}.{table[0]}"
            for index, columns in _indexes(table):
                (present,) = fetchrow(conn, load("migrate/has_index.sql"),
                                      {"table": qualified, "columns": list(columns)})
                if not present:  # an older migration's index of another name does as well
                    conn.execute(index_statement(index, table[0], columns), prepare=False)
        conn.execute(load("migrate/stream_tables_set.sql"), {"fingerprint": fingerprint}, prepare=False)
    log.info("The streams' own tables (staging, listings, archives) made as their specs have them")
    return True

"""The statement templates of ``include/sql``, filled with a stream's names and column lists.

A template holds ``{name}`` fields only where an identifier or an identifier list goes; they are
filled with ``psycopg.sql`` identifiers built from the stream's spec (``ploomes_sync.streams``),
never with text. Values always travel as ``%(name)s`` parameters. So a new column of a stream
reaches every COPY, merge, archive and check statement without an edit to any of them.

Fields: ``{stage}``, ``{listing}``, ``{target}``, ``{archive}`` (schema-qualified tables);
``{columns}`` (every column), ``{listed}`` (the listing's columns), ``{listed_l}``/``{listed_w}``
(the same qualified with ``l.``/``w.``), ``{assignments}`` (``col = EXCLUDED.col``, every column but
the key), ``{target_columns}``/``{excluded_columns}`` (``t.col``/``EXCLUDED.col``),
``{gone_columns}`` (``g.col``), ``{t_customer}``/``{g_customer}`` (the column that links a row to
``customer_sales``, or NULL), ``{t_created}`` (``t.created_at``, or NULL for a stream without it);
for the check, ``{year}`` (the São Paulo year of the year column on either side, or NULL) and
``{amount_l}``/``{amount_w}`` (the amount counted on each side, or NULL); for a stream with lines,
``{line_stage}``, ``{lines}`` (their public table), ``{line_columns}`` (``{line_columns_s}``
qualified with ``s.``), ``{parent_key}``, ``{line_assignments}`` and
``{line_target_columns}``/``{line_excluded_columns}``.
"""

from __future__ import annotations

import functools

from psycopg import sql

from ploomes_sync.settings import SYNC_SCHEMA
from ploomes_sync.streams import Stream
from ploomes_sync.warehouse.sqlfiles import load


def _names(columns: tuple[str, ...], qualifier: str | None = None) -> sql.Composed:
    parts = [sql.Identifier(qualifier, name) if qualifier else sql.Identifier(name) for name in columns]
    return sql.SQL(", ").join(parts)


def _customer(stream: Stream, qualifier: str) -> sql.Composable:
    return sql.Identifier(qualifier, stream.customer_key) if stream.customer_key else sql.SQL("NULL::bigint")


def _year(stream: Stream) -> sql.Composable:
    if stream.year_column is None:
        return sql.SQL("NULL::integer")
    return sql.SQL("extract(year FROM coalesce({}, {}) AT TIME ZONE %(tz)s)::integer").format(
        sql.Identifier("l", stream.year_column), sql.Identifier("w", stream.year_column))


def _amount(stream: Stream, qualifier: str) -> sql.Composable:
    if stream.amount is None:
        return sql.SQL("NULL::numeric")
    value = sql.Identifier(qualifier, stream.amount)
    if stream.amount_if is None:
        return value
    return sql.SQL("CASE WHEN {} THEN {} END").format(sql.Identifier(qualifier, stream.amount_if), value)


def _line_fields(stream: Stream) -> dict[str, sql.Composable]:
    """The fields of the lines' templates (``{line_stage}``, ``{lines}``, ``{line_columns}``, ...)."""
    lines = stream.lines
    if lines is None:
        return {}
    columns = lines.column_names
    return {
        "line_stage": sql.Identifier(SYNC_SCHEMA, lines.stage),
        "lines": sql.Identifier("public", lines.target),
        "line_columns": _names(columns),
        "line_columns_s": _names(columns, "s"),
        "parent_key": sql.Identifier(lines.parent_key),
        "line_assignments": sql.SQL(", ").join(
            sql.SQL("{} = {}").format(sql.Identifier(name), sql.Identifier("excluded", name))
            for name in columns[1:]
        ),
        "line_target_columns": _names(columns, "i"),
        "line_excluded_columns": _names(columns, "excluded"),
    }


def fields(stream: Stream) -> dict[str, sql.Composable]:
    """Every template field for ``stream``."""
    columns = stream.column_names
    return {
        **_line_fields(stream),
        "stage": sql.Identifier(SYNC_SCHEMA, stream.stage),
        "listing": sql.Identifier(SYNC_SCHEMA, stream.listing_stage),
        "target": sql.Identifier("public", stream.target),
        "archive": sql.Identifier(SYNC_SCHEMA, stream.archive),
        "columns": _names(columns),
        "listed": _names(stream.listed),
        "listed_l": _names(stream.listed, "l"),
        "listed_w": _names(stream.listed, "w"),
        "assignments": sql.SQL(", ").join(
            sql.SQL("{} = {}").format(sql.Identifier(name), sql.Identifier("excluded", name))
            for name in columns[1:]
        ),
        "target_columns": _names(columns, "t"),
        "excluded_columns": _names(columns, "excluded"),
        "gone_columns": _names(columns, "g"),
        "t_customer": _customer(stream, "t"),
        # what a date-range run's CreateDate scope reads (a stream without created_at has no such scope)
        "t_created": sql.Identifier("t", "created_at") if "created_at" in columns else sql.SQL("NULL::timestamptz"),
        "g_customer": _customer(stream, "g"),
        "year": _year(stream),
        "amount_l": _amount(stream, "l"),
        "amount_w": _amount(stream, "w"),
    }


@functools.cache
def statement(name: str, stream: Stream, **overrides: str) -> sql.Composed:
    """Template ``name`` (e.g. ``"merge/upsert.sql"``) filled for ``stream``.

    ``overrides`` replace a table field by another of the stream's tables, e.g. ``listing="stage"``
    reads the listing from the stream's own staging (a run whose extract is its listing).
    """
    values = fields(stream)
    for field_name, other in overrides.items():
        values[field_name] = values[other]
    return sql.SQL(load(name)).format(**values)


# The column types a stream's spec may declare for the sync's own tables: fixed text, nothing else.
SQL_TYPES: dict[str, sql.SQL] = {kind: sql.SQL(kind) for kind in (  # type: ignore[arg-type]
    "bigint", "bigint NOT NULL", "boolean", "integer", "jsonb", "jsonb NOT NULL", "numeric(15,2)", "numeric(15,4)",
    "numeric(9,4)", "text", "text NOT NULL", "timestamptz", "timestamptz NOT NULL DEFAULT now()")}


def _sql_type(kind: str) -> sql.SQL:
    try:
        return SQL_TYPES[kind]
    except KeyError:
        raise ValueError(f"column type {kind!r} is not one the sync's tables take: {sorted(SQL_TYPES)}") from None


def table_statement(name: str, columns: tuple[tuple[str, str], ...], staging: bool) -> sql.Composed:
    """``migrate/stream_table.sql`` for the sync's own table ``name`` (``ploomes_sync.<name>``) with
    ``columns`` (name, one of :data:`SQL_TYPES`), unlogged when it is ``staging``."""
    return sql.SQL(load("migrate/stream_table.sql")).format(
        unlogged=sql.SQL("UNLOGGED") if staging else sql.SQL(""),
        table=sql.Identifier(SYNC_SCHEMA, name),
        definitions=sql.SQL(", ").join(sql.SQL("{} {}").format(sql.Identifier(column), _sql_type(kind))
                                       for column, kind in columns),
        additions=sql.SQL(", ").join(
            sql.SQL("ADD COLUMN IF NOT EXISTS {} {}").format(sql.Identifier(column),
                                                             _sql_type(kind.replace(" NOT NULL", "")
                                                                       .replace(" DEFAULT now()", "")))
            for column, kind in columns))


def index_statement(index: str, table: str, columns: tuple[str, ...]) -> sql.Composed:
    """``migrate/stream_index.sql``: index ``index`` of ``ploomes_sync.<table>`` on ``columns``."""
    return sql.SQL(load("migrate/stream_index.sql")).format(
        index=sql.Identifier(index), table=sql.Identifier(SYNC_SCHEMA, table),
        columns=sql.SQL(", ").join(map(sql.Identifier, columns)))

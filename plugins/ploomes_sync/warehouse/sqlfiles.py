"""The warehouse's SQL statements, read once from ``include/sql`` (or ``$PLOOMES_SYNC_SQL_DIR``)."""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import LiteralString, cast

from ploomes_sync.warehouse.errors import SqlFileMissing

SQL_DIR_ENV = "PLOOMES_SYNC_SQL_DIR"
DEFAULT_SQL_DIR = Path(__file__).resolve().parents[3] / "include" / "sql"


def sql_dir() -> Path:
    """The folder the statements are read from."""
    override = os.environ.get(SQL_DIR_ENV)
    return Path(override) if override else DEFAULT_SQL_DIR


def load(name: str) -> LiteralString:
    """The text of statement file ``name`` (relative to :func:`sql_dir`, e.g. ``"merge/sales.sql"``)."""
    return _read(sql_dir() / name)


@functools.cache
def _read(path: Path) -> LiteralString:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as err:
        raise SqlFileMissing(
            f"SQL file {path} not found; set {SQL_DIR_ENV} to the folder that holds include/sql's files."
        ) from err
    # The files are part of the package and hold fixed statements: values only ever go in as parameters.
    return cast(LiteralString, text)

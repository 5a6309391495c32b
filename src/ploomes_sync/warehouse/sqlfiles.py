"""The warehouse's SQL statements: package data (``ploomes_sync/sql``, the project's ``include/sql``)."""

from __future__ import annotations

import functools
from importlib.resources import files
from importlib.resources.abc import Traversable
from typing import LiteralString, cast

from ploomes_sync.warehouse.errors import SqlFileMissing


def sql_dir() -> Traversable:
    """The folder of statement files, wherever the package is installed."""
    return files("ploomes_sync") / "sql"


@functools.cache
def load(name: str) -> LiteralString:
    """The text of statement file ``name`` (e.g. ``"merge/upsert.sql"``), read once."""
    try:
        text = (sql_dir() / name).read_text(encoding="utf-8")
    except FileNotFoundError as err:
        raise SqlFileMissing(f"SQL file {name!r} is not in the installed package ploomes_sync (sql/).") from err
    # The files are part of the package and hold fixed statements: values only ever go in as parameters.
    return cast(LiteralString, text)

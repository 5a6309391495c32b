"""What reading a record needs from the warehouse: the account's custom fields as the last read of
``/Fields`` left them (``public.custom_fields``), with the configuration's client tag."""

from __future__ import annotations

import psycopg

from ploomes_sync.records import FieldSpec
from ploomes_sync.streams import ReadContext
from ploomes_sync.warehouse.connection import fetchall, transaction
from ploomes_sync.warehouse.sqlfiles import load


def read_context(conn: psycopg.Connection, client_tag_id: int) -> ReadContext:
    """The context records are read with now."""
    with transaction(conn):
        rows = fetchall(conn, load("vocabulary/fields.sql"))
    return ReadContext(client_tag_id, {key: FieldSpec(native, bool(options), bool(multiple))
                                       for key, native, options, multiple in rows})

"""``ploomes_sync.webhook_inbox``: the deliveries received, pending until the applier marks them.

The receiver stores a delivery in its own committed transaction before it answers 2xx; the
applier reads the pending events oldest first and marks those it applied, each with the outcome
of its record. Duplicates are stored as they come: the applier reads each record once per batch.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from ploomes_sync.warehouse.connection import execute, fetchall, fetchdicts, fetchone, fetchrow, transaction
from ploomes_sync.warehouse.sqlfiles import load


@dataclass(frozen=True)
class Event:
    """A pending event of the inbox."""

    id: int
    stream: str
    record_id: int
    action: str | None
    received_at: datetime
    deletion: bool = False  # the delivery says the record was deleted (Action Delete, or New null)


def store(conn: psycopg.Connection, *, stream: str, record_id: int, action: str | None,
          payload: Mapping[str, Any]) -> int:
    """Store one delivery (committed when this returns); its inbox id."""
    with transaction(conn):
        (event_id,) = fetchrow(conn, load("inbox/store.sql"), {
            "stream": stream, "record_id": record_id, "action": action, "payload": Jsonb(dict(payload))})
    return int(event_id)


def pending(conn: psycopg.Connection, limit: int) -> list[Event]:
    """The oldest pending events, at most ``limit``, in the order received."""
    with transaction(conn):
        return [Event(*row) for row in fetchall(conn, load("inbox/pending.sql"), {"limit": limit})]


def high_water(conn: psycopg.Connection) -> int | None:
    """The newest pending event's id; None when nothing is pending."""
    with transaction(conn):
        row = fetchone(conn, load("inbox/high_water.sql"))
    return None if row is None or row[0] is None else int(row[0])


def mark_applied(conn: psycopg.Connection, events: Sequence[Event], run_id: str,
                 outcomes: Mapping[tuple[str, int], str]) -> int:
    """Mark ``events`` applied by ``run_id`` with the outcome of their record; how many were marked."""
    keys = list(outcomes)
    with transaction(conn):
        return execute(conn, load("inbox/mark_applied.sql"), {
            "run_id": run_id, "ids": [event.id for event in events],
            "streams": [stream for stream, _ in keys], "record_ids": [record for _, record in keys],
            "outcomes": [outcomes[key] for key in keys]})


def backlog(conn: psycopg.Connection) -> dict[str, Any]:
    """Pending events, the oldest's arrival, the last application, the last arrival, arrivals in 24 h."""
    with transaction(conn):
        return fetchdicts(conn, load("inbox/backlog.sql"))[0]


def purge(conn: psycopg.Connection, older_than: timedelta) -> int:
    """Delete applied events older than ``older_than``; how many."""
    with transaction(conn):
        return execute(conn, load("inbox/purge.sql"), {"older_than": older_than})

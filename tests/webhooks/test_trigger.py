"""The AssetWatcher trigger: fires once per newer pending event, never for nothing, and keeps
watching through a warehouse it cannot read."""

from __future__ import annotations

import asyncio

import psycopg
import pytest

from ploomes_sync import warehouse
from ploomes_sync.warehouse import inbox
from ploomes_sync.webhooks import trigger as trigger_module
from ploomes_sync.webhooks.trigger import InboxTrigger
from tests.support.connections import use_sales_db


@pytest.fixture
def migrated(db_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    use_sales_db(monkeypatch, db_url)
    with psycopg.connect(db_url) as conn:
        warehouse.migrate(conn)
    return db_url


def store(db_url: str, record_id: int) -> int:
    with psycopg.connect(db_url) as conn:
        return inbox.store(conn, stream="deals", record_id=record_id, action="Update", payload={})


class Watching:
    """Runs the trigger in a task of its own (as the triggerer does) and queues what it fires."""

    def __init__(self, trigger: InboxTrigger) -> None:
        self.queue: asyncio.Queue = asyncio.Queue()
        self.task = asyncio.create_task(self._consume(trigger))

    async def _consume(self, trigger: InboxTrigger) -> None:
        async for event in trigger.run():
            await self.queue.put(event)

    async def next(self, timeout: float):
        """The next event fired within ``timeout`` seconds, else None."""
        try:
            return await asyncio.wait_for(self.queue.get(), timeout)
        except TimeoutError:
            return None

    async def stop(self) -> None:
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)


def test_it_fires_for_pending_events_once_and_again_only_for_newer_ones(migrated: str):
    async def scenario() -> list:
        events = Watching(InboxTrigger(poll_interval=0.05))
        seen = [await events.next(1.0)]  # nothing pending: no event
        first = store(migrated, 1)
        store(migrated, 1)
        seen.append(await events.next(5.0))
        seen.append(await events.next(0.5))  # the same events: not again
        newest = store(migrated, 2)
        seen.append(await events.next(5.0))
        await events.stop()
        return [first, newest, *seen]

    first, newest, nothing, fired, again, fired_newer = asyncio.run(scenario())
    assert nothing is None and again is None
    assert fired.payload == {"pending_upto": first + 1}
    assert fired_newer.payload == {"pending_upto": newest}


def test_after_a_restart_it_fires_at_once_for_what_is_pending(migrated: str):
    pending = store(migrated, 7)

    async def scenario():
        events = Watching(InboxTrigger(poll_interval=0.05))
        event = await events.next(5.0)
        await events.stop()
        return event

    assert asyncio.run(scenario()).payload == {"pending_upto": pending}


def test_it_keeps_watching_when_the_warehouse_cannot_be_read(migrated: str, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(trigger_module, "ERROR_BACKOFF_SECONDS", 0.05)
    with psycopg.connect(migrated, autocommit=True) as conn:
        conn.execute("ALTER TABLE ploomes_sync.webhook_inbox RENAME TO webhook_inbox_away")

    async def scenario():
        events = Watching(InboxTrigger(poll_interval=0.05))
        nothing = await events.next(0.5)
        with psycopg.connect(migrated, autocommit=True) as conn:
            conn.execute("ALTER TABLE ploomes_sync.webhook_inbox_away RENAME TO webhook_inbox")
        pending = store(migrated, 3)
        event = await events.next(5.0)
        await events.stop()
        return nothing, pending, event

    nothing, pending, event = asyncio.run(scenario())
    assert nothing is None and event.payload == {"pending_upto": pending}


def test_it_serializes_to_its_importable_path():
    classpath, kwargs = InboxTrigger(conn_id="other_db", poll_interval=3).serialize()
    assert classpath == "ploomes_sync.webhooks.trigger.InboxTrigger"
    assert kwargs == {"conn_id": "other_db", "poll_interval": 3}
    assert InboxTrigger(**kwargs).serialize() == (classpath, kwargs)


def test_while_events_stay_pending_it_fires_again_with_growing_pauses(migrated: str, monkeypatch):
    monkeypatch.setattr(trigger_module, "REFIRE_FIRST_SECONDS", 0.3)
    pending = store(migrated, 5)

    async def scenario():
        events = Watching(InboxTrigger(poll_interval=0.05))
        fired = [await events.next(5.0)]
        started = asyncio.get_running_loop().time()
        fired.append(await events.next(2.0))  # after 0.3 s
        second = asyncio.get_running_loop().time()
        fired.append(await events.next(2.0))  # after 0.6 s
        third = asyncio.get_running_loop().time()
        with psycopg.connect(migrated, autocommit=True) as conn:  # applied: nothing pending any more
            conn.execute("UPDATE ploomes_sync.webhook_inbox SET applied_at = now()")
        fired.append(await events.next(1.5))
        await events.stop()
        return fired, second - started, third - second

    fired, first_pause, second_pause = asyncio.run(scenario())
    assert [event.payload if event else None for event in fired] == [
        {"pending_upto": pending}, {"pending_upto": pending, "again": True},
        {"pending_upto": pending, "again": True}, None]
    assert 0.25 < first_pause < second_pause

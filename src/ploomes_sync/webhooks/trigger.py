"""What wakes the applier: an AssetWatcher trigger that watches the inbox from Airflow's triggerer.

:class:`InboxTrigger` asks the warehouse every ``poll_interval`` seconds for the newest pending
event (one indexed query) and fires when a newer one than it last fired for has arrived. Each
firing is an Asset event of ``ploomes_sync.webhook_inbox``, which runs ``ploomes_webhook_apply``;
events that arrive while a run is going coalesce into the next run. So the applier runs when
there is something to apply, and never otherwise (no every-minute schedule filling the UI with
empty runs). After a restart of the triggerer it fires at once if anything is pending, so events
received while Airflow was down are applied as soon as it is back. While events stay pending
(the applier paused, or failing, or an Asset event that started no run: one fired while a run was
ending), it fires again after 5 s, then after twice as long each time, up to every 30 minutes: an
Asset event while the DAG is paused is not queued, so without this the events would wait for the
next delivery. (At 30 s first, a real Airflow showed changes arriving as a run ended land together
20-28 s later.)

The poll goes through connection ``sales_db`` on one session kept open (in autocommit mode, so it
works through a transaction-mode pooler); after an error the session is opened anew.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

from airflow.triggers.base import BaseEventTrigger, TriggerEvent

from ploomes_sync.settings import SALES_DB_CONN_ID

DEFAULT_POLL_SECONDS = 2.0
ERROR_BACKOFF_SECONDS = 30.0
REFIRE_FIRST_SECONDS = 5.0
REFIRE_MAX_SECONDS = 1800.0


class InboxWatch:
    """One warehouse session that reads the inbox's newest pending event (blocking calls)."""

    def __init__(self, connection: Any) -> None:
        self.connection = connection
        self._conn: Any = None

    def newest_pending(self) -> int | None:
        import psycopg

        from ploomes_sync.warehouse import inbox
        from ploomes_sync.warehouse.connection import connect_kwargs

        if self._conn is None or self._conn.closed:
            self._conn = psycopg.connect(**connect_kwargs(self.connection), autocommit=True, prepare_threshold=None)
        try:
            return inbox.high_water(self._conn)
        except Exception:
            self.close()
            raise

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


class InboxTrigger(BaseEventTrigger):
    """Fires when the webhook inbox holds a pending event newer than the last one it fired for."""

    def __init__(self, conn_id: str = SALES_DB_CONN_ID, poll_interval: float = DEFAULT_POLL_SECONDS) -> None:
        super().__init__()
        self.conn_id = conn_id
        self.poll_interval = poll_interval

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return f"{type(self).__module__}.{type(self).__qualname__}", {
            "conn_id": self.conn_id, "poll_interval": self.poll_interval}

    async def run(self) -> AsyncIterator[TriggerEvent]:
        from airflow.sdk import BaseHook

        fired: int | None = None
        fired_at = 0.0
        refire = REFIRE_FIRST_SECONDS
        failing = False
        watch: InboxWatch | None = None
        try:
            while True:
                try:
                    if watch is None:
                        watch = InboxWatch(await BaseHook.aget_connection(self.conn_id))
                    newest = await asyncio.to_thread(watch.newest_pending)
                except Exception as exc:  # noqa: BLE001 - the watch must outlive a warehouse outage
                    if not failing:
                        self.log.warning("Cannot read the webhook inbox through %s (%s: %s); retrying every %s s",
                                         self.conn_id, type(exc).__name__, exc, ERROR_BACKOFF_SECONDS)
                    failing, watch = True, None  # read the connection again: it may have been fixed
                    await asyncio.sleep(ERROR_BACKOFF_SECONDS)
                    continue
                if failing:
                    self.log.info("The webhook inbox is readable again")
                    failing = False
                now = time.monotonic()
                if newest is None:
                    refire = REFIRE_FIRST_SECONDS
                elif fired is None or newest > fired:
                    fired, fired_at, refire = newest, now, REFIRE_FIRST_SECONDS
                    self.log.info("Webhook events pending (up to inbox id %s): waking the applier", newest)
                    yield TriggerEvent({"pending_upto": newest})
                elif now - fired_at >= refire:
                    fired_at, refire = now, min(refire * 2, REFIRE_MAX_SECONDS)
                    self.log.warning("Webhook events up to inbox id %s are still pending: waking the applier "
                                     "again (is ploomes_webhook_apply paused or failing?)", newest)
                    yield TriggerEvent({"pending_upto": newest, "again": True})
                await asyncio.sleep(self.poll_interval)
        finally:
            if watch is not None:
                watch.close()


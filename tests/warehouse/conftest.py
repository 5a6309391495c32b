"""A migrated warehouse database for the session, emptied before each test that uses it."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest

from ploomes_devkit.postgres import create_database, drop_database
from ploomes_sync import warehouse

TABLES = (
    "public.sales", "public.customers", "public.customer_sales", "ploomes_sync.stage_deals",
    "ploomes_sync.stage_contacts", "ploomes_sync.stage_deals_listing", "ploomes_sync.stage_contacts_listing",
    "ploomes_sync.stage_runs", "ploomes_sync.listings", "ploomes_sync.listing_ranges", "ploomes_sync.deleted_customers",
    "ploomes_sync.api_budget",
    "ploomes_sync.rejects", "ploomes_sync.deleted_sales", "ploomes_sync.watermarks",
    "ploomes_sync.run_history", "ploomes_sync.webhook_inbox", "ploomes_sync.stale_alerts",
)


@pytest.fixture(scope="session")
def warehouse_url(pg_admin_url: str) -> Iterator[str]:
    """A database of the warehouse tests' own, migrated once."""
    url = create_database(pg_admin_url, prefix="ploomes_wh")
    with psycopg.connect(url) as conn:
        warehouse.migrate(conn)
    yield url
    drop_database(pg_admin_url, url)


@pytest.fixture
def connect(warehouse_url: str) -> Iterator[Callable[..., psycopg.Connection]]:
    """Opens more connections to the emptied warehouse; closes them after the test."""
    opened: list[psycopg.Connection] = []

    def _connect(**kwargs) -> psycopg.Connection:
        conn = psycopg.connect(warehouse_url, **kwargs)
        opened.append(conn)
        return conn

    with psycopg.connect(warehouse_url, autocommit=True) as admin:
        admin.execute(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY")  # fixed names above
    yield _connect
    for conn in opened:
        conn.close()


@pytest.fixture
def conn(connect) -> psycopg.Connection:
    """A connection (autocommit off, as PostgresHook gives) to the emptied warehouse."""
    return connect()


@pytest.fixture
def reader(connect) -> psycopg.Connection:
    """An autocommit connection for checking what other sessions see."""
    return connect(autocommit=True)


@pytest.fixture
def pool() -> Iterator[ThreadPoolExecutor]:
    """Threads for work that must run while the test watches (futures re-raise their errors)."""
    with ThreadPoolExecutor(max_workers=4) as executor:
        yield executor


def wait_until(predicate: Callable[[], bool], timeout: float = 10.0, interval: float = 0.02) -> None:
    """Poll ``predicate`` until true; fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"condition not met within {timeout}s")
        time.sleep(interval)


def waiting_on_lock(reader: psycopg.Connection, waiter: psycopg.Connection, holder: psycopg.Connection) -> bool:
    """Whether ``waiter``'s backend waits for a lock ``holder``'s holds (not any lock: autovacuum, for
    one, holds locks a moment on a busy machine)."""
    return reader.execute("SELECT %s = ANY(pg_blocking_pids(%s))",
                          [holder.info.backend_pid, waiter.info.backend_pid]).fetchone()[0]

"""The stale-data alert: through a real SMTP server, once per breach, even though no task failed."""

from __future__ import annotations

import psycopg
import pytest

from ploomes_sync.alerts import send_email
from ploomes_sync.monitoring.stale import check_stale
from tests.monitoring.conftest import age, record_run
from tests.support.connections import use_smtp
from tests.support.smtp import Mailbox, smtp_server

RECIPIENTS = ["data-team@example.test"]


@pytest.fixture
def mailbox(monkeypatch: pytest.MonkeyPatch):
    with smtp_server() as box:
        use_smtp(monkeypatch, box.port, ", ".join(RECIPIENTS))
        yield box


def check(db_url: str, recipients=RECIPIENTS, send=None):
    with psycopg.connect(db_url) as conn:
        return check_stale(conn, bound_hours=8, recipients=recipients, send=send or send_email,
                           dag_id="ploomes_sales_sync")


def test_fresh_data_sends_nothing(history: str, mailbox: Mailbox):
    result = check(history)
    assert not result.stale and not result.alerted and mailbox.messages == []


def test_stale_data_is_announced_once_per_breach(history: str, mailbox: Mailbox):
    with psycopg.connect(history) as conn:
        for run_id in ("scheduled__latest", "scheduled__6", "scheduled__4"):  # the last success: a day ago
            age(conn, run_id, 30)
    first = check(history)
    assert first.stale and first.alerted and 23 * 3600 < first.stale_for_seconds < 24 * 3600
    (message,) = mailbox.messages
    assert "stale" in message["Subject"] and message["To"] == RECIPIENTS[0]
    body = Mailbox.text(message)
    assert "ploomes_sales_sync" in body and "once per breach" in body and "stale_after_hours" in body

    again = check(history)
    assert again.stale and again.already_alerted and not again.alerted and len(mailbox.messages) == 1

    with psycopg.connect(history) as conn:  # a run succeeds, then the data goes stale again
        record_run(conn, "scheduled__later", hours_ago=9)
    assert check(history).alerted and len(mailbox.messages) == 2


def test_a_warehouse_never_synced_is_announced(db_url: str, mailbox: Mailbox, monkeypatch):
    from ploomes_sync import warehouse

    with psycopg.connect(db_url) as conn:
        warehouse.migrate(conn)
    assert check(db_url).alerted
    assert "never been synced" in mailbox.messages[0]["Subject"]
    assert not check(db_url).alerted


def test_without_recipients_or_smtp_the_breach_stays_unannounced_until_it_can_be(history: str, mailbox: Mailbox):
    with psycopg.connect(history, autocommit=True) as conn:
        conn.execute("UPDATE ploomes_sync.run_history SET finished_at = finished_at - interval '1 day'")
    assert not check(history, recipients=[]).alerted

    def broken(*args):
        raise ConnectionRefusedError("smtp down")

    with pytest.raises(ConnectionRefusedError):
        check(history, send=broken)
    assert mailbox.messages == []
    assert check(history).alerted and len(mailbox.messages) == 1

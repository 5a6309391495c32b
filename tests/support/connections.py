"""The Airflow connections a test points at its own servers, as ``AIRFLOW_CONN_*`` variables."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from ploomes_simulator import RunningSimulator, SimulatorConfig, run_in_thread


def ploomes_connection(url: str, key: str, **extra: Any) -> str:
    """The JSON of connection ``ploomes_default`` for the API at ``url`` with User-Key ``key``."""
    return json.dumps({"conn_type": "ploomes", "host": url, "password": key, "extra": extra})


def use_ploomes(monkeypatch: pytest.MonkeyPatch, url: str, key: str, **extra: Any) -> None:
    """Point ``ploomes_default`` at ``url`` for this test."""
    monkeypatch.setenv("AIRFLOW_CONN_PLOOMES_DEFAULT", ploomes_connection(url, key, **extra))


def use_sales_db(monkeypatch: pytest.MonkeyPatch, db_url: str) -> None:
    """Point ``sales_db`` at the database ``db_url`` for this test."""
    parts = psycopg.conninfo.conninfo_to_dict(db_url)
    monkeypatch.setenv("AIRFLOW_CONN_SALES_DB", json.dumps({
        "conn_type": "postgres", "host": parts["host"], "port": int(parts.get("port", 5432)),
        "login": parts.get("user"), "password": parts.get("password"), "schema": parts["dbname"],
    }))


def use_smtp(monkeypatch: pytest.MonkeyPatch, port: int, recipients: str) -> None:
    """Send alert e-mails through the SMTP server on ``port`` to ``recipients`` for this test."""
    monkeypatch.setenv("AIRFLOW_CONN_SMTP_DEFAULT", json.dumps({
        "conn_type": "smtp", "host": "127.0.0.1", "port": port,
        "extra": {"disable_tls": True, "disable_ssl": True, "from_email": "airflow@example.test",
                  "retry_limit": 0, "timeout": 5},
    }))
    monkeypatch.setenv("AIRFLOW_VAR_PLOOMES_SYNC_ALERT_EMAILS", recipients)


@contextlib.contextmanager
def simulated_ploomes(monkeypatch: pytest.MonkeyPatch, key: str, *, deals: int, contacts: int, seed: int,
                      **extra: Any) -> Iterator[RunningSimulator]:
    """A simulator in a thread (no rate limit of its own) with ``ploomes_default`` pointed at it;
    ``extra`` are the connection's extras (the hook's limits, backoff)."""
    config = SimulatorConfig(deals=deals, contacts=contacts, seed=seed, api_key=key, rate_limit=0)
    with run_in_thread(config) as running:
        use_ploomes(monkeypatch, running.url, key, **extra)
        yield running

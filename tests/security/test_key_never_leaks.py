"""The User-Key never leaves the connection: no log, exception, e-mail, table or file holds it.

The whole DAG runs twice with dag.test: once through 5xx answers the hook retries (and a record
set aside as a reject), once with the key revoked (a 403 fails the run and sends the failure
e-mails). Then everything the runs produced is scanned for the key, raw and in the forms a leak
would take on the way (URL-encoded, base64 at any alignment, JSON-escaped, its first or last 16
characters): the task logs (logging records and everything written to stdout and stderr), the
exceptions, every e-mail the SMTP server received, every row of every table of the warehouse, every
table of Airflow's metadata database and every file under AIRFLOW_HOME.

The key holds ``+``, ``/`` and ``=`` so its encoded forms differ from it, and is made up per run.
A planted key is found in each of those places, so a clean scan means something. A server that
echoes the key in its error bodies is answered with the key blanked out.
"""

from __future__ import annotations

import base64
import html
import json
import logging
import os
import pickle
import secrets
import smtplib
import sqlite3
import threading
import traceback
from collections.abc import Iterator
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import quote, quote_plus

import psycopg
import pytest
from psycopg import sql

from tests.support.connections import use_ploomes, use_sales_db, use_smtp
from tests.support.smtp import Mailbox, smtp_server

Evidence = dict[str, str]


@pytest.fixture
def api_key() -> str:
    """A fresh canary: no other test's output can hold it, and its encodings differ from it."""
    return f"{secrets.token_hex(12)}+Canary/{secrets.token_hex(12)}=="


@pytest.fixture
def mailbox(monkeypatch: pytest.MonkeyPatch) -> Iterator[Mailbox]:
    with smtp_server() as box:
        use_smtp(monkeypatch, box.port, "data-team@example.test")
        yield box


# --- the scanner ------------------------------------------------------------------------------------------


def leak_forms(key: str) -> dict[str, str]:
    """What the key looks like after the encodings a leak goes through."""
    raw = key.encode()
    forms = {"raw": key, "url-encoded": quote(key, safe=""), "form-encoded": quote_plus(key),
             "json-escaped": json.dumps(key)[1:-1].replace("/", "\\/"), "html-escaped": html.escape(key),
             "first 16 characters": key[:16], "last 16 characters": key[-16:]}
    for alphabet, encode in (("base64", base64.b64encode), ("urlsafe base64", base64.urlsafe_b64encode)):
        for shift in range(3):  # the key's bytes at any offset of a longer encoded text
            encoded = encode(b"\0" * shift + raw).decode()
            forms[f"{alphabet} at offset {shift}"] = encoded[4 if shift else 0: -4]
    return forms


def find_key(key: str, evidence: Evidence) -> dict[str, list[str]]:
    """``{source: [forms of the key found in it]}``; empty when the key is nowhere."""
    forms = leak_forms(key)
    found = {}
    for source, text in evidence.items():
        hits = [name for name, form in forms.items() if form in text]
        if hits:
            found[source] = hits
    return found


def describe_exception(exc: BaseException) -> str:
    """Everything an exception shows: message, repr, traceback with causes, attributes, pickle."""
    parts = ["".join(traceback.format_exception(exc))]
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        parts += [str(current), repr(current), repr(vars(current))]
        try:
            parts.append(pickle.dumps(current).decode("latin-1"))
        except (pickle.PicklingError, TypeError, AttributeError):
            pass
        current = current.__cause__ or current.__context__
    return "\n".join(parts)


def warehouse_evidence(db_url: str) -> Evidence:
    """Every row of every table of the warehouse, as text."""
    evidence = {}
    with psycopg.connect(db_url, autocommit=True) as conn:
        tables = conn.execute(
            "SELECT table_schema, table_name FROM information_schema.tables "
            "WHERE table_schema NOT IN ('pg_catalog', 'information_schema') AND table_type = 'BASE TABLE'"
        ).fetchall()
        for schema, table in tables:
            query = sql.SQL("SELECT t::text FROM {}.{} AS t").format(sql.Identifier(schema), sql.Identifier(table))
            evidence[f"warehouse {schema}.{table}"] = "\n".join(row[0] for row in conn.execute(query))
    return evidence


def airflow_evidence(home: Path) -> Evidence:
    """Every table of Airflow's metadata database, and every file under AIRFLOW_HOME, as text."""
    evidence = {}
    database = home / "airflow.db"
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as conn:
        conn.text_factory = lambda data: data.decode("utf-8", "replace")
        for (table,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall():
            rows = conn.execute(f'SELECT * FROM "{table}"').fetchall()  # names from sqlite_master
            evidence[f"airflow db table {table}"] = "\n".join(
                repr(tuple(v.decode("latin-1") if isinstance(v, bytes) else v for v in row)) for row in rows)
    for path in sorted(home.rglob("*")):
        if path.is_file():
            evidence[f"file {path.relative_to(home)}"] = path.read_bytes().decode("latin-1")
    return evidence


def mail_evidence(mailbox: Mailbox) -> Evidence:
    return {f"e-mail {i} {message['Subject']!r}": message.as_string() + "\n" + Mailbox.text(message)
            for i, message in enumerate(mailbox.messages)}


# --- the runs ---------------------------------------------------------------------------------------------


class EchoHandler(BaseHTTPRequestHandler):
    """A hostile API: every error body quotes the key it was sent."""

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        key = self.headers.get("User-Key", "")
        status = 403 if "Account" in self.path else 503
        body = json.dumps({"error": {"code": "Nope", "message": f"key {key} refused; header User-Key: {key}"}})
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 (http.server's signature)
        pass


class TestTheKeyNeverLeaks:
    def test_whole_dag_runs_with_retried_5xx_and_a_403_leave_the_key_nowhere(
        self, harness, mailbox, api_key, capfd,
    ):
        from ploomes_sync.api.errors import PloomesAuthError, PloomesRequestError
        from ploomes_sync.hooks.ploomes import PloomesHook

        # dag.test logs every task to stdout (Airflow's logging setup replaces the root logger's
        # handlers, pytest's caplog included): capfd captures it all.
        admin = harness.sim.admin
        admin.create_deal_raw({"Id": 999_000_777, "Title": "set aside", "Amount": "not a number", "StatusId": 1,
                               "CreateDate": "2024-05-01T10:00:00-03:00",
                               "LastUpdateDate": "2024-05-01T10:00:00-03:00"})
        admin.set_faults(schedule=[{"kind": "503", "count": 2, "after": 1, "path": "/Deals"},
                                   {"kind": "500", "count": 1, "path": "/Contacts"},
                                   {"kind": "502", "count": 1, "path": "/Account"}])
        first = harness.run()
        retried = [r for r in admin.requests() if r["status"] in (500, 502, 503)]
        admin.clear_faults()
        admin.configure(api_key="a-key-that-replaced-ours-" + secrets.token_hex(8))
        second = harness.run()

        assert str(first.state) == "success", harness.task_states(first)
        assert len(retried) == 4, "each injected 5xx was answered, and its request retried"
        assert str(second.state) == "failed" and "failed" in harness.task_states(second).values()

        # Exceptions, raised the way the tasks raise them.
        exceptions = {}
        with pytest.raises(PloomesAuthError) as denied:
            PloomesHook().check_key()
        exceptions["PloomesAuthError"] = denied.value
        admin.configure(api_key=api_key)
        admin.set_faults(schedule=[{"kind": "503", "count": 50}])
        with pytest.raises(PloomesRequestError) as exhausted:
            PloomesHook(max_attempts=2).check_key()
        exceptions["PloomesRequestError"] = exhausted.value
        admin.clear_faults()

        out, err = capfd.readouterr()
        evidence: Evidence = {"captured stdout": out, "captured stderr": err}
        evidence |= {f"exception {name}": describe_exception(exc) for name, exc in exceptions.items()}
        evidence |= mail_evidence(mailbox)
        evidence |= warehouse_evidence(harness.db_url)
        evidence |= airflow_evidence(Path(os.environ["AIRFLOW_HOME"]))

        # The scan saw the runs' traces, not empty places...
        assert "Ploomes accepted the key" in out and "PloomesAuthError" in out
        assert mailbox.messages and "403" in Mailbox.text(mailbox.messages[0])
        assert "403" in evidence["warehouse ploomes_sync.run_history"], (
            "the failed run's error should be in run_history (was its failure record overwritten by a "
            "task that ran after the failing one, e.g. plan_run reopening the row?)")
        assert "999000777" in evidence["warehouse ploomes_sync.rejects"]
        assert first.run_id in evidence["airflow db table task_instance"]
        assert "GET http" in evidence["exception PloomesAuthError"]
        # ... and the key is in none of them.
        assert find_key(api_key, evidence) == {}

        self.assert_a_planted_key_is_found_everywhere(api_key, harness, mailbox, capfd)

    @staticmethod
    def formatted(records: list[logging.LogRecord]) -> Iterator[str]:
        formatter = logging.Formatter("%(levelname)s %(name)s %(message)s")
        for record in records:
            yield formatter.format(record)
            yield repr(record.args)

    def assert_a_planted_key_is_found_everywhere(self, key, harness, mailbox, capfd) -> None:
        """Put the key, encoded, into each place the scan reads: the scan must report each one."""
        home = Path(os.environ["AIRFLOW_HOME"])
        planted_file = home / "logs" / "planted" / "attempt=1.log"
        planted_file.parent.mkdir(parents=True, exist_ok=True)
        planted_file.write_text(f"header User-Key: {quote_plus(key)}\n")
        # straight to stdout: where logging writes depends on what configured it earlier in the session
        os.write(1, f"sending {{'User-Key': '{key[-16:]}'}}\n".encode())
        os.write(2, base64.b64encode(f"User-Key: {key}".encode()))  # straight to stderr
        message = EmailMessage()
        message["Subject"], message["From"], message["To"] = "planted", "a@example.test", "b@example.test"
        message.set_content(f"the key is {key} " + "é" * 80, cte="base64")
        with smtplib.SMTP("127.0.0.1", mailbox.port) as client:
            client.send_message(message)
        with harness.connect() as conn:
            conn.execute("INSERT INTO ploomes_sync.rejects (run_id, stream, reason, raw) VALUES "
                         "('planted', 'deals', 'planted', %s)", [json.dumps({"k": key})])
        airflow_db = sqlite3.connect(home / "airflow.db")
        with airflow_db:
            airflow_db.execute("CREATE TABLE planted_leak (value text)")
            airflow_db.execute("INSERT INTO planted_leak VALUES (?)", [key[:20]])
        airflow_db.close()
        try:
            out, err = capfd.readouterr()
            evidence: Evidence = {"captured stdout": out, "captured stderr": err,
                                  "exception": describe_exception(RuntimeError(f"GET ?key={quote(key, safe='')}"))}
            evidence |= mail_evidence(mailbox) | warehouse_evidence(harness.db_url) | airflow_evidence(home)
            found = find_key(key, evidence)
            assert {"captured stdout", "captured stderr", "exception", "warehouse ploomes_sync.rejects",
                    "airflow db table planted_leak", "file logs/planted/attempt=1.log"} <= set(found), found
            assert any(source.startswith("e-mail") and "'planted'" in source for source in found), found
            assert found["captured stdout"] == ["last 16 characters"], found  # the log message
            assert "base64 at offset 1" in found["captured stderr"], found  # "User-Key: " is 10 bytes
        finally:
            planted_file.unlink()
            airflow_db = sqlite3.connect(home / "airflow.db")
            with airflow_db:
                airflow_db.execute("DROP TABLE planted_leak")
            airflow_db.close()

    def test_a_server_echoing_the_key_in_its_errors_is_quoted_with_the_key_blanked_and_a_refusal_not_at_all(
        self, api_key, monkeypatch, caplog, capfd,
    ):
        from ploomes_sync.api.errors import PloomesAuthError, PloomesRequestError
        from ploomes_sync.hooks.ploomes import PloomesHook

        caplog.set_level(logging.DEBUG)
        server = ThreadingHTTPServer(("127.0.0.1", 0), EchoHandler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            use_ploomes(monkeypatch, f"http://127.0.0.1:{server.server_address[1]}", api_key, max_attempts=2,
                        backoff_base=0.01, backoff_max=0.02, trust_env=False)
            with pytest.raises(PloomesAuthError) as denied:
                PloomesHook().check_key()
            with pytest.raises(PloomesRequestError) as exhausted:
                list(PloomesHook().paginate("Deals"))
        finally:
            server.shutdown()
            server.server_close()
        out, err = capfd.readouterr()
        evidence = {"denied": describe_exception(denied.value), "exhausted": describe_exception(exhausted.value),
                    "log records": "\n".join(self.formatted(caplog.records)), "stdout": out, "stderr": err}
        assert "refused" not in str(denied.value), "a 401/403 is never quoted"
        assert "refused" in str(exhausted.value), "the server's words are kept in other failures"
        assert "answered 403" in out and "Attempt 1 of GET" in out, "the hook's own log lines were scanned"
        assert "***" in str(exhausted.value)
        assert find_key(api_key, evidence) == {}


class TestTheFailureCallbacks:
    def test_a_key_quoted_by_an_exception_is_scrubbed_from_the_email_and_the_run_history(
        self, api_key, db_url, monkeypatch,
    ):
        """The second line of defence: whatever an exception says, the e-mail and run history don't
        repeat the connection's password."""
        from types import SimpleNamespace

        from ploomes_sync import alerts, warehouse

        use_ploomes(monkeypatch, "http://127.0.0.1:9", api_key)
        use_sales_db(monkeypatch, db_url)
        with psycopg.connect(db_url) as conn:
            warehouse.migrate(conn)
        ti = SimpleNamespace(dag_id="ploomes_sales_sync", task_id="extract_deals", run_id="manual__leaky",
                             try_number=1, max_tries=0, log_url="http://airflow.example/log")
        context = {"ti": ti, "dag_run": None,
                   "exception": RuntimeError(f"upstream said: bad key {api_key} (User-Key: {api_key})")}

        subject, body = alerts.describe_failure(context)
        alerts.record_failure(context)

        with psycopg.connect(db_url) as conn:
            error = conn.execute("SELECT error FROM ploomes_sync.run_history WHERE run_id = 'manual__leaky'"
                                 ).fetchone()[0]
        evidence = {"subject": subject, "body": body, "run_history.error": error}
        assert "bad key ***" in body and "bad key ***" in error, "the rest of the message is kept"
        assert find_key(api_key, evidence) == {}


    def test_every_connection_s_secret_is_scrubbed_from_the_email_the_run_history_and_the_health_report(
        self, api_key, db_url, monkeypatch,
    ):
        """Not only the User-Key: the webhook validation key, the SMTP password, the warehouse's password
        and a sensitive extra, in the forms a careless server or library echoes them."""
        from types import SimpleNamespace

        from ploomes_sync import alerts, secrets, warehouse
        from ploomes_sync.monitoring.report import read_report

        webhook_key, smtp_password = "Webhook-Validation-9f8e7d6c5b4a", "Smtp-Pass-1a2b3c4d5e6f"
        token = "Tok-0a9b8c7d6e5f4"
        use_ploomes(monkeypatch, "http://127.0.0.1:9", api_key)
        use_sales_db(monkeypatch, db_url)
        monkeypatch.setenv("AIRFLOW_CONN_PLOOMES_WEBHOOK", json.dumps({
            "conn_type": "http", "host": "https://sync.example", "password": webhook_key}))
        monkeypatch.setenv("AIRFLOW_CONN_SMTP_DEFAULT", json.dumps({
            "conn_type": "smtp", "host": "mail.example", "login": "alerts", "password": smtp_password,
            "extra": {"api_token": token}}))
        secrets.forget()
        with psycopg.connect(db_url) as conn:
            warehouse.migrate(conn)
        ti = SimpleNamespace(dag_id="ploomes_sales_sync", task_id="extract_deals", run_id="manual__leaky",
                             try_number=1, max_tries=0, log_url="http://airflow.example/log")
        said = (f"a receiver said {webhook_key.lower()}; "
                f"smtp said {base64.b64encode(smtp_password.encode()).decode()}; "
                f"half {api_key[: len(api_key) // 2]}; token {token}")
        context = {"ti": ti, "dag_run": None, "exception": RuntimeError(said)}

        subject, body = alerts.describe_failure(context)
        alerts.record_failure(context)
        with psycopg.connect(db_url) as conn:
            report = read_report(conn, stale_after_seconds=3600)
            error = conn.execute("SELECT error FROM ploomes_sync.run_history WHERE run_id = 'manual__leaky'"
                                 ).fetchone()[0]
        shown = "\n".join([subject, body, error, json.dumps(report.as_dict())])
        assert "a receiver said ***" in body and "smtp said ***" in error
        for secret in (webhook_key, smtp_password, token, api_key):
            for form in (secret, secret.lower(), base64.b64encode(secret.encode()).decode(),
                         secret[: len(secret) // 2]):
                assert form.lower() not in shown.lower(), form
        secrets.forget()


class TestTheScanner:
    def test_every_form_of_the_key_is_recognised_inside_longer_text(self, api_key):
        raw = api_key.encode()
        samples = {
            "raw": f"x {api_key} y",
            "url": f"?k={quote(api_key, safe='')}&",
            "base64 shifted": base64.b64encode(b"ab" + raw + b"cd").decode(),
            "urlsafe base64": base64.urlsafe_b64encode(b"User-Key: " + raw).decode(),
            "json": json.dumps({"password": api_key}).replace("/", "\\/"),
            "truncated": f"key={api_key[:16]}...",
        }
        assert set(find_key(api_key, samples)) == set(samples)
        assert find_key(api_key, {"other key": api_key.replace("Canary", "Canari")[::-1]}) == {}

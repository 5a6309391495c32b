"""The sync through a transaction-mode pooler that requires TLS, as Supabase's pooler on port 6543.

PgBouncer (Debian's package) runs with ``pool_mode = transaction`` and client TLS required (a
throwaway certificate) in front of the test's PostgreSQL. The warehouse connections are made the
way the DAG makes them (``ploomes_sync.warehouse.connection``) from connection ``sales_db`` with the
extras the README gives: ``{"sslmode": "require", "prepare_threshold": null}``. Two syncs end equal to the truth, also
as the least-privilege login the README has Supabase users create. Without ``prepare_threshold``
the sync still works: it never lets psycopg prepare a statement (see
``ploomes_sync.warehouse.connection``), which a transaction pooler would break.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from ploomes_devkit.airflow_standalone import free_port
from ploomes_devkit.pipeline import Pipeline
from ploomes_sync.config import SyncConfig
from tests.support.connections import simulated_ploomes
from tests.support.contract import PUBLIC
from tests.support.truth import assert_warehouse_equals_simulator

README_EXTRAS = {"sslmode": "require", "prepare_threshold": None}
APP_PASSWORD = "pooler-test-password"  # a throwaway login of a throwaway database


def _certificate(folder: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1)).sign(key, hashes.SHA256()))
    key_path, cert_path = folder / "server.key", folder / "server.crt"
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return key_path, cert_path


class PgBouncer:
    """PgBouncer in transaction mode, TLS required of clients, in front of the test's PostgreSQL."""

    def __init__(self, server_url: str, users: dict[str, str]) -> None:
        binary = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"
        assert Path(binary).exists(), "pgbouncer is missing: run devkit/system-packages.sh (make install does)"
        server = psycopg.conninfo.conninfo_to_dict(server_url)
        self.port = free_port()
        # a folder of its own that the unprivileged user PgBouncer runs as can read
        self.folder = folder = Path(tempfile.mkdtemp(prefix="ploomes-pgbouncer-"))
        folder.chmod(0o755)
        key, cert = _certificate(folder)
        (folder / "users.txt").write_text("".join(f'"{user}" "{password}"\n' for user, password in users.items()))
        (folder / "pgbouncer.ini").write_text(f"""
[databases]
* = host={server.get('host', '127.0.0.1')} port={server.get('port', 5432)}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {self.port}
unix_socket_dir =
auth_type = scram-sha-256
auth_file = {folder / 'users.txt'}
pool_mode = transaction
client_tls_sslmode = require
client_tls_key_file = {key}
client_tls_cert_file = {cert}
ignore_startup_parameters = extra_float_digits, options
max_client_conn = 500
default_pool_size = 20
""")
        for path in folder.iterdir():
            path.chmod(0o644)
        command = [binary, str(folder / "pgbouncer.ini")]
        if os.geteuid() == 0:  # PgBouncer will not run as root
            command[1:1] = ["-u", "nobody"]
        self.log = folder / "pgbouncer.log"
        with self.log.open("wb") as log:  # opened here: the unprivileged PgBouncer only writes to it
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while True:
            assert self.process.poll() is None, f"pgbouncer exited: {self.log.read_text()}"
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "pgbouncer did not start"
                time.sleep(0.1)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)
        shutil.rmtree(self.folder, ignore_errors=True)


@pytest.fixture
def sim(api_key: str, monkeypatch: pytest.MonkeyPatch):
    with simulated_ploomes(monkeypatch, api_key, deals=600, contacts=60, seed=31, requests_per_minute=600_000,
                           backoff_base=0.01, backoff_max=0.05, trust_env=False) as running:
        yield running


def use_pooled_sales_db(monkeypatch: pytest.MonkeyPatch, pooler: PgBouncer, dbname: str, login: str,
                        extras: dict) -> Callable[[], psycopg.Connection]:
    """Point connection ``sales_db`` at the pooler; return how the DAG opens it."""
    from ploomes_sync.connections import connect_warehouse

    monkeypatch.setenv("AIRFLOW_CONN_SALES_DB", json.dumps({
        "conn_type": "postgres", "host": "127.0.0.1", "port": pooler.port, "schema": dbname, "login": login,
        "password": APP_PASSWORD, "extra": extras}))
    return connect_warehouse


@pytest.fixture
def pooler(pg_admin_url: str) -> Iterator[PgBouncer]:
    user = psycopg.conninfo.conninfo_to_dict(pg_admin_url).get("user", "postgres")
    bouncer = PgBouncer(pg_admin_url, {user: APP_PASSWORD})
    yield bouncer
    bouncer.stop()


def _two_syncs(sim, connect: Callable[[], psycopg.Connection]) -> None:
    pipeline = Pipeline("", config=SyncConfig(), connect=connect)
    first = pipeline.run(run_id="through-the-pooler-1")
    assert first.status == "success"
    sim.admin.mutate(updates=40, deletes=5, creates=6, seed=3)
    sim.admin.update_contact(sim.admin.truth_contacts()[0]["Id"], Name="Renomeada")
    second = pipeline.run(run_id="through-the-pooler-2", run_type="scheduled")
    assert second.status == "success" and second.plan["streams"]["deals"]["listing"] == "count"
    with connect() as conn:
        assert_warehouse_equals_simulator(conn, sim.admin)


def test_the_pooler_refuses_a_client_without_tls(pooler: PgBouncer, db_url: str, pg_admin_url: str) -> None:
    user = psycopg.conninfo.conninfo_to_dict(pg_admin_url).get("user", "postgres")
    dbname = psycopg.conninfo.conninfo_to_dict(db_url)["dbname"]
    plain = f"host=127.0.0.1 port={pooler.port} dbname={dbname} user={user} password={APP_PASSWORD}"
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(plain + " sslmode=disable").close()
    with psycopg.connect(plain + " sslmode=require") as conn:
        assert conn.pgconn.ssl_in_use


@pytest.mark.parametrize("extras", [README_EXTRAS, {"sslmode": "require"}],
                         ids=["README extras", "without prepare_threshold"])
def test_two_syncs_through_a_transaction_pooler_with_tls_end_equal_to_the_truth(
    sim, pooler: PgBouncer, db_url: str, pg_admin_url: str, monkeypatch: pytest.MonkeyPatch, extras: dict,
) -> None:
    user = psycopg.conninfo.conninfo_to_dict(pg_admin_url).get("user", "postgres")
    dbname = psycopg.conninfo.conninfo_to_dict(db_url)["dbname"]
    connect = use_pooled_sales_db(monkeypatch, pooler, dbname, user, extras)
    with connect() as conn:
        assert conn.pgconn.ssl_in_use
    _two_syncs(sim, connect)


def test_a_least_privilege_login_syncs_through_the_pooler(
    sim, pg_admin_url: str, db_url: str, monkeypatch: pytest.MonkeyPatch,
) -> None:
    from tests.security.test_least_privilege import ROLE, SCRIPT, Warehouse

    house = Warehouse(pg_admin_url, db_url)
    house.harden()
    try:
        admin_url = house.make_admin_like_supabase()
        house.run_script(SCRIPT.read_text(encoding="utf-8"), admin_url)
        house.create_login(admin_url)
        with house.superuser() as conn:
            conn.execute(psycopg.sql.SQL("ALTER ROLE {} PASSWORD {}").format(
                psycopg.sql.Identifier(house.login), psycopg.sql.Literal(APP_PASSWORD)))
        bouncer = PgBouncer(pg_admin_url, {house.login: APP_PASSWORD})
        try:
            connect = use_pooled_sales_db(monkeypatch, bouncer, house.dbname, house.login, README_EXTRAS)
            _two_syncs(sim, connect)
            with house.superuser() as conn:
                owners = dict(conn.execute("SELECT tablename, tableowner FROM pg_tables WHERE schemaname = 'public'"
                                           ).fetchall())
            assert owners == {"other_app": house.other_owner, **dict.fromkeys(PUBLIC, ROLE)}
        finally:
            bouncer.stop()
    finally:
        house.drop_roles()

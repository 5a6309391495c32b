"""The sync runs as a PostgreSQL role holding only what ``include/sql/roles/least_privilege.sql`` grants.

On a hardened database (PUBLIC keeps no privilege on it nor on schema ``public``) with a table of
another application in ``public``, an administrator who is not a superuser (as on Supabase: the
database's owner, with CREATEROLE) runs the script; a login in the role then runs the whole sync,
migrations included, twice, and the warehouse equals the simulator's truth. The role is no
superuser and can do nothing else: the other application's table is untouched and unreadable, it
cannot create a schema, and all it owns is its schema and the three contract tables. Each grant of
the script is needed: without any one of them the first run fails.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from tests.support.connections import simulated_ploomes
from tests.support.contract import PUBLIC
from tests.support.truth import assert_warehouse_equals_simulator

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "include" / "sql" / "roles" / "least_privilege.sql"
ROLE = "ploomes_sync"
CONTRACT_TABLES = tuple(PUBLIC)  # the warehouse contract's tables
CONTRACT_VIEWS = ("customer_price_history", "sales_named", "custom_field_values")
GRANTS = {  # each grant of the script: the lines that give it, and how the first run fails without it
    "connect_on_database": (r"GRANT CONNECT ON DATABASE", "permission denied for database"),
    "usage_on_public": (r"^GRANT USAGE ON SCHEMA public", "permission denied for schema public"),
    "create_on_public": (r"^GRANT CREATE ON SCHEMA public", "permission denied for schema public"),
    # without its schema the role would have to create one, which takes CREATE on the database
    "owns_schema_ploomes_sync": (r"^(CREATE|ALTER) SCHEMA .*ploomes_sync", "permission denied for database"),
}


def with_user(url: str, user: str) -> str:
    return psycopg.conninfo.make_conninfo(url, user=user)


def script_without(grant: str | None) -> str:
    lines = SCRIPT.read_text(encoding="utf-8").splitlines()
    if grant is None:
        return "\n".join(lines)
    kept = [line for line in lines if not re.search(GRANTS[grant][0], line)]
    assert len(kept) < len(lines), f"the script no longer holds {grant}"
    return "\n".join(kept)


@pytest.fixture(scope="module")
def group_role(pg_admin_url: str) -> Iterator[str]:
    """The cluster-wide role is left behind by no test: dropped once the module's databases are gone."""
    yield ROLE
    with psycopg.connect(pg_admin_url, autocommit=True) as conn:
        try:
            conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(ROLE)))
        except psycopg.errors.DependentObjectsStillExist:
            pass  # another session's database still uses it


class Warehouse:
    """A hardened database, another application's table in it, and the roles a test made."""

    def __init__(self, pg_admin_url: str, db_url: str) -> None:
        self.pg_admin_url, self.db_url = pg_admin_url, db_url
        self.dbname = psycopg.conninfo.conninfo_to_dict(db_url)["dbname"]
        suffix = uuid.uuid4().hex[:8]
        self.other_owner, self.admin, self.login = (f"other_app_{suffix}", f"db_admin_{suffix}",
                                                    f"ploomes_sync_app_{suffix}")
        self.roles: list[str] = []

    def superuser(self) -> psycopg.Connection:
        return psycopg.connect(self.db_url, autocommit=True)

    def create_role(self, name: str, attributes: str) -> None:
        with self.superuser() as conn:
            conn.execute(sql.SQL("CREATE ROLE {} " + attributes).format(sql.Identifier(name)))  # noqa: S608
        self.roles.append(name)

    def harden(self) -> None:
        """PUBLIC loses every privilege on the database and on schema public (PostgreSQL 15 already
        takes CREATE on public away); another application keeps a table of its own in public."""
        self.create_role(self.other_owner, "NOLOGIN")
        with self.superuser() as conn:
            conn.execute(sql.SQL("REVOKE ALL ON DATABASE {} FROM PUBLIC").format(sql.Identifier(self.dbname)))
            conn.execute("REVOKE ALL ON SCHEMA public FROM PUBLIC")
            conn.execute("CREATE TABLE public.other_app (id int PRIMARY KEY, secret text)")
            conn.execute("INSERT INTO public.other_app VALUES (1, 'payroll'), (2, 'contracts')")
            conn.execute(sql.SQL("ALTER TABLE public.other_app OWNER TO {}").format(sql.Identifier(self.other_owner)))

    def make_admin_like_supabase(self) -> str:
        """A non-superuser with CREATEROLE who owns the database (Supabase's postgres); its URL."""
        self.create_role(self.admin, "LOGIN CREATEROLE")
        with self.superuser() as conn:
            conn.execute(sql.SQL("ALTER DATABASE {} OWNER TO {}").format(sql.Identifier(self.dbname),
                                                                          sql.Identifier(self.admin)))
        return with_user(self.db_url, self.admin)

    def run_script(self, text: str, admin_url: str | None = None) -> None:
        with psycopg.connect(admin_url or self.db_url, autocommit=True) as conn:
            conn.execute(text.encode())  # the script as a whole, as psql -f runs it

    def create_login(self, admin_url: str | None = None) -> str:
        """The login the README tells the administrator to create; its URL."""
        with psycopg.connect(admin_url or self.db_url, autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE ROLE {} LOGIN IN ROLE {}").format(sql.Identifier(self.login),
                                                                           sql.Identifier(ROLE)))
            conn.execute(sql.SQL("ALTER ROLE {} SET role = {}").format(sql.Identifier(self.login),
                                                                        sql.Literal(ROLE)))
        self.roles.append(self.login)
        return with_user(self.db_url, self.login)

    def drop_roles(self) -> None:
        with self.superuser() as conn:
            for name in reversed(self.roles):
                role = sql.Identifier(name)
                conn.execute(sql.SQL("REASSIGN OWNED BY {} TO CURRENT_USER").format(role))
                conn.execute(sql.SQL("DROP OWNED BY {}").format(role))
            conn.execute(sql.SQL("ALTER DATABASE {} OWNER TO CURRENT_USER").format(sql.Identifier(self.dbname)))
        with psycopg.connect(self.pg_admin_url, autocommit=True) as conn:
            for name in reversed(self.roles):
                conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(name)))


@pytest.fixture
def warehouse(pg_admin_url: str, db_url: str, group_role: str) -> Iterator[Warehouse]:
    house = Warehouse(pg_admin_url, db_url)
    house.harden()
    yield house
    house.drop_roles()


@pytest.fixture
def sim(api_key: str, monkeypatch: pytest.MonkeyPatch):
    with simulated_ploomes(monkeypatch, api_key, deals=500, contacts=50, seed=21, requests_per_minute=600_000,
                           backoff_base=0.01, backoff_max=0.05, trust_env=False) as running:
        yield running


def pipeline(url: str):
    from ploomes_devkit.pipeline import Pipeline
    from ploomes_sync.config import SyncConfig

    return Pipeline(url, config=SyncConfig())


class TestTheSyncRunsAsTheLeastPrivilegedRole:
    def test_the_whole_sync_runs_as_the_role_and_touches_nothing_else(self, warehouse, sim):
        admin_url = warehouse.make_admin_like_supabase()
        warehouse.run_script(script_without(None), admin_url)
        warehouse.run_script(script_without(None), admin_url)  # idempotent
        login_url = warehouse.create_login(admin_url)

        pipeline(login_url).run(run_id="manual__first")
        sim.admin.mutate(updates=30, deletes=10, creates=15, seed=2)
        second = pipeline(login_url).run(run_id="scheduled__second", run_type="scheduled")

        assert second.plan["mode"] == "incremental"
        with warehouse.superuser() as conn:
            assert_warehouse_equals_simulator(conn, sim.admin)
            self.assert_role_holds_no_power(conn, warehouse.login)
            self.assert_owns_only_its_objects(conn, warehouse.login)
            assert conn.execute("SELECT * FROM public.other_app ORDER BY id").fetchall() == [
                (1, "payroll"), (2, "contracts")]
            assert conn.execute("SELECT n_tup_ins + n_tup_upd + n_tup_del FROM pg_stat_user_tables "
                                "WHERE relid = 'public.other_app'::regclass").fetchone() == (2,)
        with psycopg.connect(login_url, autocommit=True) as conn:
            assert conn.execute("SELECT current_user, session_user").fetchone() == (ROLE, warehouse.login)
            for forbidden in ("SELECT * FROM public.other_app", "DELETE FROM public.other_app",
                              "ALTER TABLE public.other_app ADD COLUMN x int", "CREATE SCHEMA intruder",
                              "SET ROLE postgres"):
                with pytest.raises(psycopg.errors.InsufficientPrivilege):
                    conn.execute(forbidden)

    @staticmethod
    def assert_role_holds_no_power(conn: psycopg.Connection, login: str) -> None:
        rows = conn.execute(
            "SELECT rolname, rolsuper, rolcreatedb, rolcreaterole, rolreplication, rolbypassrls, rolcanlogin "
            "FROM pg_roles WHERE rolname = ANY(%s) ORDER BY rolname", [[ROLE, login]]).fetchall()
        assert rows == [(ROLE, False, False, False, False, False, False),
                        (login, False, False, False, False, False, True)]
        # the login's only membership is the role
        granted = conn.execute("SELECT b.rolname FROM pg_auth_members m JOIN pg_roles b ON b.oid = m.roleid "
                               "JOIN pg_roles u ON u.oid = m.member WHERE u.rolname = %s", [login]).fetchall()
        assert granted == [(ROLE,)]

    @staticmethod
    def assert_owns_only_its_objects(conn: psycopg.Connection, login: str) -> None:
        owned = conn.execute(
            "SELECT n.nspname, c.relname, c.relkind, coalesce(i.indrelid::regclass::text, '') "
            "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "LEFT JOIN pg_index i ON i.indexrelid = c.oid "
            "WHERE c.relowner = %s::regrole AND n.nspname <> 'pg_toast'", [ROLE]).fetchall()
        public = {name for schema, name, kind, _ in owned if schema == "public" and kind != "i"}
        indexed = {table for schema, _, kind, table in owned if schema == "public" and kind == "i"}
        assert public == set(CONTRACT_TABLES) | set(CONTRACT_VIEWS), public
        assert indexed <= {f"public.{t}" for t in CONTRACT_TABLES} | set(CONTRACT_TABLES), indexed
        assert {schema for schema, *_ in owned} == {"public", "ploomes_sync"}
        rls = conn.execute("SELECT relname, relrowsecurity FROM pg_class WHERE oid = ANY(%s::regclass[])",
                           [[f"public.{t}" for t in CONTRACT_TABLES]]).fetchall()
        assert all(on for _, on in rls), rls
        functions = conn.execute("SELECT DISTINCT n.nspname FROM pg_proc p JOIN pg_namespace n "
                                 "ON n.oid = p.pronamespace WHERE p.proowner = %s::regrole", [ROLE]).fetchall()
        assert functions in ([], [("ploomes_sync",)])
        by_login = conn.execute(
            "SELECT (SELECT count(*) FROM pg_class WHERE relowner = %(u)s::regrole)"
            " + (SELECT count(*) FROM pg_namespace WHERE nspowner = %(u)s::regrole)"
            " + (SELECT count(*) FROM pg_proc WHERE proowner = %(u)s::regrole)", {"u": login}).fetchone()
        assert by_login == (0,), "the login owns nothing: its sessions act as the role"


class TestEveryGrantIsNeeded:
    @pytest.mark.parametrize("grant", sorted(GRANTS))
    def test_without_it_the_first_run_fails(self, warehouse, grant):
        warehouse.run_script(script_without(grant))
        login_url = warehouse.create_login()
        run = pipeline(login_url)
        steps: list[str] = []
        run.before = steps.append
        with pytest.raises(psycopg.Error, match=GRANTS[grant][1]):
            run.run(run_id=f"manual__without_{grant}")
        assert steps == ["plan_run"]  # which applies the migrations first

    def test_with_all_of_them_the_first_run_gets_past_the_migrations(self, warehouse):
        warehouse.run_script(script_without(None))
        login_url = warehouse.create_login()
        from ploomes_sync import tasks
        from ploomes_sync.warehouse.migrate import discover

        with psycopg.connect(login_url) as conn:
            assert len(tasks.migrate_schema(conn)) == len(discover())

    def test_a_role_holding_more_than_it_needs_is_refused(self, warehouse):
        warehouse.run_script(script_without(None))
        with warehouse.superuser() as conn:
            conn.execute(sql.SQL("ALTER ROLE {} CREATEDB").format(sql.Identifier(ROLE)))
            try:
                with pytest.raises(psycopg.errors.RaiseException, match="more than it needs"):
                    conn.execute(script_without(None).encode())
            finally:
                conn.execute(sql.SQL("ALTER ROLE {} NOCREATEDB").format(sql.Identifier(ROLE)))

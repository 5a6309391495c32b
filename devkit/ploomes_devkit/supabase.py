"""A database set up the way Supabase sets up a project's, written from what its initialisation SQL
is known to do (``shared/warehouse-contract.md``, "Supabase facts that bite"), for the tests:

- the API roles ``anon``, ``authenticated`` and ``service_role`` (it bypasses row-level security),
  and ``authenticator``, the login the HTTP API connects as and switches from;
- the project's administrator, Supabase's ``postgres``, played by :data:`ADMIN`: not a superuser,
  with CREATEROLE and BYPASSRLS, a member of the three API roles, owner of the database (the
  cluster's superuser plays ``supabase_admin``);
- default privileges that give the API roles every privilege on the tables, sequences and
  functions the administrator creates in ``public``, and USAGE on ``public``;
- the ``auth`` schema with ``auth.uid()``: the signed-in user's id, from the request's JWT claim
  ``sub`` (``SET request.jwt.claim.sub = '<uuid>'`` plays a request);
- ``pgrst.db_schemas = 'public'``, the schemas the HTTP API exposes.

Roles belong to the cluster: they are created once, and stay (every test database uses them).
"""

from __future__ import annotations

import psycopg
from psycopg import sql

ADMIN = "supabase_postgres"  # plays Supabase's postgres: the login the dashboard gives a project's owner
API_ROLES = ("anon", "authenticated", "service_role")

_ROLES = {
    "anon": "NOLOGIN NOINHERIT",
    "authenticated": "NOLOGIN NOINHERIT",
    "service_role": "NOLOGIN NOINHERIT BYPASSRLS",
    "authenticator": "LOGIN NOINHERIT",
    ADMIN: "LOGIN NOSUPERUSER CREATEROLE BYPASSRLS INHERIT",
}

_DATABASE = """
GRANT USAGE ON SCHEMA public TO anon, authenticated, service_role;
ALTER DEFAULT PRIVILEGES FOR ROLE {admin} IN SCHEMA public GRANT ALL ON TABLES TO anon, authenticated, service_role;
ALTER DEFAULT PRIVILEGES FOR ROLE {admin} IN SCHEMA public GRANT ALL ON SEQUENCES TO anon, authenticated, service_role;
ALTER DEFAULT PRIVILEGES FOR ROLE {admin} IN SCHEMA public GRANT ALL ON FUNCTIONS TO anon, authenticated, service_role;
CREATE SCHEMA IF NOT EXISTS auth;
CREATE OR REPLACE FUNCTION auth.uid() RETURNS uuid LANGUAGE sql STABLE
    AS $$ SELECT nullif(current_setting('request.jwt.claim.sub', true), '')::uuid $$;
GRANT USAGE ON SCHEMA auth TO anon, authenticated, service_role, {admin};
GRANT EXECUTE ON FUNCTION auth.uid() TO anon, authenticated, service_role, {admin};
"""


def _create_roles(conn: psycopg.Connection) -> None:
    for attempt in range(5):  # test processes set the cluster's roles up side by side
        try:
            _roles(conn)
            return
        except psycopg.errors.InternalError:  # "tuple concurrently updated": another process granted meanwhile
            if attempt == 4:
                raise


def _roles(conn: psycopg.Connection) -> None:
    for name, attributes in _ROLES.items():
        exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [name]).fetchone()
        if exists is None:
            try:  # another test process may create it at the same moment
                conn.execute(sql.SQL("CREATE ROLE {} " + attributes).format(sql.Identifier(name)))  # noqa: S608
            except psycopg.errors.DuplicateObject:
                pass
    for api in API_ROLES:
        conn.execute(sql.SQL("GRANT {} TO {}").format(sql.Identifier(api), sql.Identifier(ADMIN)))
        conn.execute(sql.SQL("GRANT {} TO authenticator").format(sql.Identifier(api)))


def make_supabase_like(db_url: str) -> str:
    """Set up the database of ``db_url`` (a superuser's URL) as Supabase sets up a project's; the
    administrator's URL (Supabase's postgres)."""
    with psycopg.connect(db_url, autocommit=True) as conn:
        _create_roles(conn)
        name = conn.info.dbname
        conn.execute(sql.SQL("ALTER DATABASE {} OWNER TO {}").format(sql.Identifier(name), sql.Identifier(ADMIN)))
        conn.execute(sql.SQL("ALTER DATABASE {} SET pgrst.db_schemas = 'public'").format(sql.Identifier(name)))
        conn.execute(sql.SQL(_DATABASE).format(admin=sql.Identifier(ADMIN)))
    return psycopg.conninfo.make_conninfo(db_url, user=ADMIN)

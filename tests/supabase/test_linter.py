"""Supabase's linter (the Security and Performance Advisors) finds nothing of ours at WARN or ERROR
after a default install, and after the dashboard's step only the exposure that step asked for.

The facts are checked with queries of our own, one per rule of the linter that could concern what
the sync creates (its documented rules: function_search_path_mutable, pg_graphql_anon_table_exposed,
pg_graphql_authenticated_table_exposed, security_definer_view, rls_disabled_in_public,
duplicate_index, multiple_permissive_policies, rls_policy_always_true); pg_graphql itself cannot be
installed here, so its rules are checked through the privilege they read.
"""

from __future__ import annotations

import psycopg
import pytest

from tests.supabase.conftest import Project, older_dashboard_project

OURS = """
    SELECT c.oid, n.nspname, c.relname, c.relkind
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE (n.nspname = 'ploomes_sync' AND c.relkind IN ('r', 'v', 'm', 'f'))
       OR (n.nspname = 'public' AND c.relname IN (SELECT name FROM ploomes_sync.public_objects WHERE created))
"""


def findings(conn: psycopg.Connection) -> dict[str, list]:
    """What each rule of the linter would report about the sync's own objects."""
    return {
        "function_search_path_mutable": [row[0] for row in conn.execute("""
            SELECT p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
            WHERE n.nspname = 'ploomes_sync' AND NOT coalesce(p.proconfig, '{}') && ARRAY['search_path=""']""")],
        **{f"pg_graphql_{role}_table_exposed": [row[0] for row in conn.execute(f"""
            SELECT o.nspname || '.' || o.relname FROM ({OURS}) AS o
            WHERE EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = o.oid AND a.attnum > 0
                          AND NOT a.attisdropped AND has_column_privilege(%s, o.oid, a.attnum, 'SELECT'))""",
                                                           [role])]
           for role in ("anon", "authenticated")},
        "security_definer_view": [row[0] for row in conn.execute(f"""
            SELECT o.relname FROM ({OURS}) AS o JOIN pg_class c ON c.oid = o.oid
            WHERE o.relkind = 'v' AND o.nspname = 'public'
              AND (has_table_privilege('anon', o.oid, 'SELECT')
                   OR has_table_privilege('authenticated', o.oid, 'SELECT'))
              AND NOT lower(coalesce(c.reloptions::text, '{{}}'))::text[]
                      && ARRAY['security_invoker=1', 'security_invoker=true', 'security_invoker=yes',
                               'security_invoker=on']""")],
        "rls_disabled_in_public": [row[0] for row in conn.execute(f"""
            SELECT o.relname FROM ({OURS}) AS o JOIN pg_class c ON c.oid = o.oid
            WHERE o.nspname = 'public' AND o.relkind = 'r' AND NOT c.relrowsecurity""")],
        "duplicate_index": [row[0] for row in conn.execute(f"""
            SELECT i.tablename FROM pg_indexes i
            WHERE (i.schemaname, i.tablename) IN (SELECT nspname, relname FROM ({OURS}) AS o)
            GROUP BY i.schemaname, i.tablename, replace(i.indexdef, i.indexname, '') HAVING count(*) > 1""")],
        "multiple_permissive_policies": [row[0] for row in conn.execute(f"""
            SELECT c.relname || ' ' || r.rolname || ' ' || act.cmd
            FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid
            JOIN pg_roles r ON p.polroles @> ARRAY[r.oid] OR p.polroles = ARRAY[0::oid]
            CROSS JOIN LATERAL unnest(CASE p.polcmd WHEN 'r' THEN ARRAY['SELECT'] WHEN 'a' THEN ARRAY['INSERT']
                                      WHEN 'w' THEN ARRAY['UPDATE'] WHEN 'd' THEN ARRAY['DELETE']
                                      ELSE ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE'] END) AS act(cmd)
            WHERE p.polpermissive AND p.polrelid IN (SELECT oid FROM ({OURS}) AS o)
              AND r.rolname NOT LIKE 'pg_%%' AND NOT r.rolbypassrls
            GROUP BY c.relname, r.rolname, act.cmd HAVING count(*) > 1""")],
        "rls_policy_always_true": [row[0] for row in conn.execute(f"""
            SELECT p.policyname FROM pg_policies p
            WHERE (p.schemaname, p.tablename) IN (SELECT nspname, relname FROM ({OURS}) AS o)
              AND p.cmd IN ('UPDATE', 'DELETE', 'ALL', 'INSERT') AND p.permissive = 'PERMISSIVE'""")],
    }


@pytest.mark.parametrize("older", [True, False], ids=["older tables", "fresh project"])
def test_after_a_default_install_nothing_of_ours_is_reported(project: Project, older: bool) -> None:
    if older:
        older_dashboard_project(project)
    project.sync()

    with project.admin() as conn:
        assert {rule: found for rule, found in findings(conn).items() if found} == {}


def test_after_the_dashboard_step_only_the_exposure_it_asked_for_remains(project: Project) -> None:
    older_dashboard_project(project)
    project.sync()

    project.run_script("dashboard_read.sql", "SET ploomes_sync.dashboard_roles = 'authenticated';\n")

    with project.admin() as conn:
        found = {rule: found for rule, found in findings(conn).items() if found}
        created = {f"public.{row[0]}" for row in conn.execute(
            "SELECT name FROM ploomes_sync.public_objects WHERE created")}
    assert set(found) == {"pg_graphql_authenticated_table_exposed"}
    assert set(found["pg_graphql_authenticated_table_exposed"]) == created

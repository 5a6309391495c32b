"""A real Supabase project as it is: the sync on a database set up the way Supabase sets one up, whose
older tables carry the dashboard's policies and a view, as its administrator and as the
least-privilege login; what each API role can read after each step (docs/production.md walks it)."""

from __future__ import annotations

import uuid

import psycopg
import pytest

from ploomes_devkit.pipeline import Pipeline
from ploomes_devkit.supabase import ADMIN, API_ROLES
from ploomes_sync.config import SyncConfig
from tests.reliability.harness import assert_converged
from tests.supabase.conftest import USER_A, Project, older_dashboard_project

SYNC_CREATED = ("products", "product_prices", "orders", "order_items", "quotes", "quote_items",
                "customer_price_history")


def acl(text: str) -> set[str]:
    """An ACL's items, whatever their order."""
    return set(text.strip("{}").split(","))


def policies(conn: psycopg.Connection) -> dict[str, tuple]:
    return {f"{table}.{name}": (cmd, roles, qual) for table, name, cmd, roles, qual in conn.execute(
        "SELECT tablename, policyname, cmd, roles::text, qual FROM pg_policies WHERE schemaname = 'public'")}


def can_select(project: Project, role: str, relation: str) -> bool:
    with project.as_api_role(role, USER_A) as conn:
        try:
            conn.execute(f"SELECT count(*) FROM public.{relation}").fetchone()  # relation: the test's own names
        except psycopg.errors.InsufficientPrivilege:
            return False
    return True


class TestOlderTablesKeepWhatTheUserBuilt:
    def test_policies_and_views_on_converted_columns_are_kept_and_the_first_run_makes_every_row_equal(
        self, project: Project,
    ) -> None:
        facts = older_dashboard_project(project)
        with project.admin() as conn:
            before = policies(conn)

        project.sync()

        assert_converged(project.admin_url, project.sim.admin)  # the 150 rows stamped in 2099 included
        with project.admin() as conn:
            assert conn.execute("SELECT format_type(atttypid, atttypmod) FROM pg_attribute "
                                "WHERE attrelid = 'public.sales'::regclass AND attname = 'customer_id'"
                                ).fetchone()[0] == "bigint"
            after = policies(conn)
            assert set(after) == set(before)
            assert all("auth.uid()" in after[name][2] for name in after if "customer_users" not in name)
            assert conn.execute("SELECT obj_description(oid, 'pg_policy') FROM pg_policy "
                                "WHERE polname = 'users read their customers'' deals'").fetchone()[0] == \
                "the dashboard's rule"
            view = conn.execute("SELECT reloptions, relacl::text, obj_description(oid, 'pg_class') FROM pg_class "
                                "WHERE oid = 'public.deals_by_customer'::regclass").fetchone()
            assert (view[0], acl(view[1]), view[2]) == (["security_invoker=true"], acl(facts["view_acl"]),
                                                        "what the dashboard lists")
        with project.as_api_role("authenticated", USER_A) as conn:  # the dashboard, signed in as user A
            seen = {row[0] for row in conn.execute("SELECT DISTINCT customer_id FROM public.sales")}
            assert seen == set(facts["mine"]) and conn.execute(
                "SELECT count(*) FROM public.deals_by_customer").fetchone()[0] > 0

    def test_a_dependent_view_that_cannot_take_the_new_type_fails_the_run_and_says_what_to_run(
        self, project: Project,
    ) -> None:
        older_dashboard_project(project, view_body="SELECT s.id, s.title FROM public.sales s "
                                                   "WHERE s.customer_id LIKE '3%'")

        with pytest.raises(psycopg.Error) as failed:
            Pipeline(project.admin_url, config=SyncConfig()).run()

        message = str(failed.value)
        assert "cannot convert public.sales (customer_id text -> bigint" in message
        assert "view public.deals_by_customer" in message and "policy \"users read their customers' deals\"" in message
        assert "DROP VIEW public.deals_by_customer;" in message and "CREATE VIEW public.deals_by_customer" in message
        assert "Nothing was changed" in message
        with project.admin() as conn:  # as it was
            assert conn.execute("SELECT format_type(atttypid, atttypmod) FROM pg_attribute "
                                "WHERE attrelid = 'public.sales'::regclass AND attname = 'customer_id'"
                                ).fetchone()[0] == "text"
            assert conn.execute("SELECT count(*) FROM pg_views WHERE viewname = 'deals_by_customer'").fetchone()[0] == 1

    def test_a_policy_comparing_the_column_with_its_old_type_is_put_back_comparing_it_as_before(
        self, project: Project,
    ) -> None:
        facts = older_dashboard_project(project, policy_cast=False)  # customer_id IN (SELECT <text> ...)

        project.sync()

        with project.admin() as conn:
            qual = conn.execute("SELECT qual FROM pg_policies WHERE policyname = 'users read their customers'' deals'"
                                ).fetchone()[0]
        assert "(customer_id)::text IN" in qual
        with project.as_api_role("authenticated", USER_A) as conn:
            assert {row[0] for row in conn.execute("SELECT DISTINCT customer_id FROM public.sales")} == \
                set(facts["mine"])


class TestLeastPrivilege:
    def login(self, project: Project, name: str) -> str:
        """A login in the sync's role. Roles are the cluster's, and test processes (and other test runs
        on the same server) run side by side: the name is this call's own, dropped after the test."""
        name = f"{name}_{uuid.uuid4().hex[:8]}"
        with project.admin() as conn:
            conn.execute(f'CREATE ROLE "{name}" LOGIN IN ROLE ploomes_sync')
            conn.execute(f"ALTER ROLE \"{name}\" SET role = 'ploomes_sync'")
        project.logins.append(name)
        return psycopg.conninfo.make_conninfo(project.admin_url, user=name)

    def owners(self, project: Project) -> set[str]:
        with project.admin() as conn:
            return {row[0] for row in conn.execute("""
                SELECT pg_get_userbyid(c.relowner) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                WHERE n.nspname = 'ploomes_sync' AND c.relkind IN ('r', 'v')
                   OR (n.nspname = 'public' AND c.relname IN (SELECT name FROM ploomes_sync.public_objects))
                UNION SELECT pg_get_userbyid(p.proowner) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
                WHERE n.nspname = 'ploomes_sync'""")}

    def test_from_day_one(self, project: Project) -> None:
        older_dashboard_project(project, view=False, policies=False)
        project.run_script("least_privilege.sql")
        login = self.login(project, "ploomes_sync_app_day_one")

        project.sync(login)
        project.sim.admin.mutate(updates=20, deletes=3, creates=4, seed=2)
        project.sync(login)

        assert_converged(project.admin_url, project.sim.admin)
        assert self.owners(project) == {"ploomes_sync"}

    def test_from_day_one_what_the_administrator_built_on_a_column_to_convert_is_named_with_what_to_run(
        self, project: Project,
    ) -> None:
        older_dashboard_project(project)  # the view is the administrator's: the sync's role may not drop it
        project.run_script("least_privilege.sql")
        login = self.login(project, "ploomes_sync_app_view")

        with pytest.raises(psycopg.Error) as failed:
            Pipeline(login, config=SyncConfig()).run()

        message = str(failed.value)
        assert "must be owner of view deals_by_customer" in message
        assert "DROP POLICY" in message and "DROP VIEW public.deals_by_customer;" in message
        with project.admin() as conn:  # nothing changed
            assert conn.execute("SELECT count(*) FROM pg_policies WHERE tablename = 'sales'").fetchone()[0] == 1

    def test_an_install_made_as_postgres_is_handed_over_and_the_login_just_works(self, project: Project) -> None:
        older_dashboard_project(project)
        project.sync()  # installed and run as the administrator
        assert self.owners(project) == {ADMIN}

        project.run_script("least_privilege.sql")
        login = self.login(project, "ploomes_sync_app_later")
        project.sim.admin.mutate(updates=20, deletes=3, creates=4, seed=3)
        project.sync(login)

        assert_converged(project.admin_url, project.sim.admin)
        assert self.owners(project) == {"ploomes_sync"}


class TestWhatEachRoleReads:
    def test_after_a_default_install_the_api_roles_hold_nothing_on_what_the_sync_created(self, project: Project
                                                                                         ) -> None:
        older_dashboard_project(project)
        project.sync()

        for role in API_ROLES:
            for relation in SYNC_CREATED:
                assert not can_select(project, role, relation), (role, relation)
        assert can_select(project, "authenticated", "sales")  # an older table keeps its grants (and policies)

    @pytest.mark.parametrize("role", ["authenticated", "service_role", "anon"])
    def test_the_dashboard_step_lets_the_chosen_role_read_what_the_sync_writes_and_no_other(
        self, project: Project, role: str,
    ) -> None:
        facts = older_dashboard_project(project)
        project.sync()

        project.run_script("dashboard_read.sql", f"SET ploomes_sync.dashboard_roles = '{role}';\n")

        for relation in SYNC_CREATED:
            assert can_select(project, role, relation)
            for other in set(API_ROLES) - {role}:
                assert not can_select(project, other, relation), (other, relation)
        with project.as_api_role(role, USER_A) as conn:
            history = conn.execute("SELECT count(*) FROM public.customer_price_history").fetchone()[0]
            deals = {row[0] for row in conn.execute("SELECT DISTINCT customer_id FROM public.sales")}
        assert history > 0  # the price-history modal works
        if role == "authenticated":  # the user's own policy on the older table still decides
            assert deals == set(facts["mine"])
        project.run_script("dashboard_read.sql", f"SET ploomes_sync.dashboard_roles = '{role}';\n")  # again: no change

    def test_the_step_with_the_least_privilege_install(self, project: Project) -> None:
        older_dashboard_project(project, view=False, policies=False)
        project.run_script("least_privilege.sql")
        login = TestLeastPrivilege().login(project, "ploomes_sync_app_dashboard")
        project.sync(login)
        assert not can_select(project, "service_role", "orders")

        project.run_script("dashboard_read.sql", "SET ploomes_sync.dashboard_roles = 'authenticated, service_role';\n")

        assert can_select(project, "service_role", "orders") and can_select(project, "authenticated", "orders")
        assert not can_select(project, "anon", "orders")

    def test_the_step_says_what_it_needs(self, project: Project) -> None:
        with pytest.raises(psycopg.Error, match="name the role the dashboard reads as"):
            project.run_script("dashboard_read.sql")
        with pytest.raises(psycopg.Error, match="has not run on this database yet"):
            project.run_script("dashboard_read.sql", "SET ploomes_sync.dashboard_roles = 'authenticated';\n")

"""A database set up the way Supabase sets up a project's (``ploomes_devkit.supabase``), a simulator,
and the dashboard project a sales team had before the sync: older tables with their policies and
a view over them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from ploomes_devkit.pipeline import Pipeline
from ploomes_devkit.supabase import make_supabase_like
from ploomes_simulator import RunningSimulator, SimulatorConfig, run_in_thread
from ploomes_sync.config import SyncConfig
from tests.support.connections import ploomes_connection

ROOT = Path(__file__).resolve().parents[2]
ROLES = ROOT / "include" / "sql" / "roles"
USER_A = "6f1c2a1e-0000-4000-8000-00000000000a"  # a signed-in dashboard user (auth.uid())
EXTRAS = {"requests_per_minute": 600_000, "page_size": 100, "backoff_base": 0.01, "backoff_max": 0.05,
          "max_attempts": 3, "trust_env": False}


@dataclass
class Project:
    """A Supabase-like project: the superuser's URL (Supabase's supabase_admin) and the
    administrator's (Supabase's postgres)."""

    superuser_url: str
    admin_url: str
    sim: RunningSimulator
    logins: list[str] = field(default_factory=list)  # roles of the cluster a test made, dropped after it

    def admin(self) -> psycopg.Connection:
        return psycopg.connect(self.admin_url, autocommit=True)

    def as_api_role(self, role: str, user: str | None = None) -> psycopg.Connection:
        """A session as the HTTP API makes one: the role, and the signed-in user's id when given."""
        conn = psycopg.connect(psycopg.conninfo.make_conninfo(self.admin_url), autocommit=True)
        conn.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(role)))
        if user is not None:
            conn.execute("SELECT set_config('request.jwt.claim.sub', %s, false)", [user])
        return conn

    def run_script(self, name: str, prefix: str = "", url: str | None = None) -> None:
        """A script of include/sql/roles, as psql -f runs it (``prefix``: a line run before it)."""
        with psycopg.connect(url or self.admin_url, autocommit=True) as conn:
            conn.execute((prefix + (ROLES / name).read_text(encoding="utf-8")).encode())

    def sync(self, url: str | None = None, run_id: str | None = None) -> None:
        run = Pipeline(url or self.admin_url, config=SyncConfig()).run(run_id=run_id)
        assert run.status == "success", run.failed


@pytest.fixture
def project(db_url: str, api_key: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Project]:
    config = SimulatorConfig(deals=500, contacts=50, seed=9, api_key=api_key, rate_limit=0)
    with run_in_thread(config) as sim:
        monkeypatch.setenv("AIRFLOW_CONN_PLOOMES_DEFAULT", ploomes_connection(sim.url, api_key, **EXTRAS))
        project = Project(db_url, make_supabase_like(db_url), sim)
        yield project
    with psycopg.connect(db_url, autocommit=True) as conn:  # before the database goes: its grants go with them
        for name in project.logins:
            conn.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(name)))
            conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(name)))


def older_dashboard_project(project: Project, *, view_body: str | None = None, policy_cast: bool = True,
                            view: bool = True, policies: bool = True) -> dict:
    """What the dashboard's project held before the sync: sales (customer_id as text, rows an older
    tool loaded, 150 of them stamped with the time it synced), customers, customer_sales in the
    older shape, which user sees which customer, a policy by auth.uid() on sales and customer_sales,
    and a view over sales joined to customers. Returns the facts a test checks."""
    deals = project.sim.admin.truth_deals()
    contacts = project.sim.admin.truth_contacts()
    mine = sorted({d["ContactId"] for d in deals if d.get("ContactId")})[:3]  # user A's customers
    key = "customer_id::text" if policy_cast else "customer_id"
    with project.admin() as conn:
        conn.execute("""
            CREATE TABLE public.sales (id bigint PRIMARY KEY, customer_id text, title text, deal_value numeric,
                                       status text, created_at timestamptz, updated_at timestamptz);
            CREATE TABLE public.customers (id integer PRIMARY KEY, name text, cnpj text);
            CREATE TABLE public.customer_sales (customer_id integer PRIMARY KEY, customer_name text NOT NULL,
                cnpj text, total_revenue numeric(15,2), deal_count integer, avg_deal_size numeric(15,2),
                last_purchase_date timestamptz, last_sync_at timestamptz);
            CREATE TABLE public.customer_users (user_id uuid NOT NULL, customer_id text NOT NULL);
            ALTER TABLE public.sales ENABLE ROW LEVEL SECURITY;
            ALTER TABLE public.customers ENABLE ROW LEVEL SECURITY;
            ALTER TABLE public.customer_sales ENABLE ROW LEVEL SECURITY;
            ALTER TABLE public.customer_users ENABLE ROW LEVEL SECURITY;
        """)
        conn.execute("""
            CREATE POLICY "users read their own links" ON public.customer_users FOR SELECT TO authenticated
                USING (user_id = auth.uid());
        """)
        conn.execute(f"""
            CREATE POLICY "users read their customers' deals" ON public.sales FOR SELECT TO authenticated
                USING ({key} IN (SELECT cu.customer_id FROM public.customer_users cu WHERE cu.user_id = auth.uid()));
            CREATE POLICY "users read their customers" ON public.customers FOR SELECT TO authenticated
                USING (id::text IN (SELECT cu.customer_id FROM public.customer_users cu WHERE cu.user_id = auth.uid()));
            CREATE POLICY "users read their customers' totals" ON public.customer_sales FOR SELECT TO authenticated
                USING (customer_id::text IN (SELECT cu.customer_id FROM public.customer_users cu
                                             WHERE cu.user_id = auth.uid()));
            COMMENT ON POLICY "users read their customers' deals" ON public.sales IS 'the dashboard''s rule';
        """ if policies else "SELECT 1")
        body = view_body or ("SELECT s.id, s.title, s.deal_value, c.name AS customer_name FROM public.sales s "
                             "JOIN public.customers c ON c.id = s.customer_id::integer")
        conn.execute(f"CREATE VIEW public.deals_by_customer WITH (security_invoker = true) AS {body}")
        conn.execute("""
            REVOKE ALL ON public.deals_by_customer FROM anon;
            COMMENT ON VIEW public.deals_by_customer IS 'what the dashboard lists';
        """)
        if not view:
            conn.execute("DROP VIEW public.deals_by_customer")
        rows = [(d["Id"], None if d.get("ContactId") is None else str(d["ContactId"]), f"old title {d['Id']}",
                 d.get("Amount"), {1: "Open", 2: "Won", 3: "Lost"}[d["StatusId"]], d["CreateDate"],
                 "2099-01-01T00:00:00Z" if n < 150 else d["LastUpdateDate"]) for n, d in enumerate(deals[:400])]
        with conn.cursor() as cur:
            cur.executemany("INSERT INTO public.sales VALUES (%s, %s, %s, %s, %s, %s, %s)", rows)
            cur.executemany("INSERT INTO public.customers VALUES (%s, %s, %s)",
                            [(c["Id"], f"old {c['Id']}", None) for c in contacts[:40] if c["Id"] < 2**31])
            cur.executemany("INSERT INTO public.customer_users VALUES (%s, %s)", [(USER_A, str(c)) for c in mine])
        acl = conn.execute("SELECT relacl::text FROM pg_class WHERE relname = 'deals_by_customer'").fetchone()
        acl = acl[0] if acl else None
    return {"mine": mine, "view_acl": acl, "deals": deals}


def dump(value: object) -> str:
    return json.dumps(value, default=str)

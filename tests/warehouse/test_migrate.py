"""ploomes_sync.warehouse.migrate: the contract's tables from nothing, or from their older shapes."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest

from ploomes_sync import streams, warehouse
from ploomes_sync.warehouse.migrate import discover
from tests.support.contract import BIGINT, KEYS, PUBLIC, TEXT

from .factories import deal, stage

# The migration files as they lie in the folder (read here, not through discover(), which is tested)
ALL = sorted(path.stem for path in (Path(__file__).parents[2] / "include" / "sql" / "migrations").glob("*.sql"))
CONTRACT = PUBLIC


def columns(conn: psycopg.Connection, table: str, schema: str = "public") -> dict[str, tuple]:
    rows = conn.execute(
        "SELECT column_name, data_type, numeric_precision, numeric_scale FROM information_schema.columns "
        "WHERE table_schema = %s AND table_name = %s ORDER BY ordinal_position", [schema, table]).fetchall()
    return {name: (kind, precision, scale) for name, kind, precision, scale in rows}


def not_null(conn: psycopg.Connection, table: str) -> set[str]:
    rows = conn.execute("SELECT column_name FROM information_schema.columns WHERE table_schema = 'public' "
                        "AND table_name = %s AND is_nullable = 'NO'", [table]).fetchall()
    return {row[0] for row in rows}


def assert_contract(conn: psycopg.Connection) -> None:
    for table, expected in CONTRACT.items():
        actual = columns(conn, table)
        assert {name: actual.get(name) for name in expected} == expected, table
        key = conn.execute(
            "SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid "
            "AND a.attnum = i.indkey[0] "
            "WHERE i.indrelid = %s::regclass AND i.indisunique AND i.indnkeyatts = 1",
            [f"public.{table}"]).fetchall()
        if table in KEYS:
            assert (KEYS[table],) in key, f"{table} has no unique key on {KEYS[table]}"
    primary = conn.execute("SELECT array_agg(a.attname::text ORDER BY k.n) FROM pg_index i "
                           "CROSS JOIN unnest(i.indkey) WITH ORDINALITY AS k(attnum, n) "
                           "JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum "
                           "WHERE i.indrelid = 'public.product_prices'::regclass AND i.indisprimary").fetchone()
    assert primary == (["product_id", "valid_from"],)
    assert {"id", "won"} <= not_null(conn, "sales")


def security(conn: psycopg.Connection, table: str) -> tuple:
    """Grants, RLS flags and policies of a public table."""
    acl, rls, force = conn.execute(
        "SELECT relacl::text[], relrowsecurity, relforcerowsecurity FROM pg_class WHERE oid = %s::regclass",
        [f"public.{table}"]).fetchone()
    policies = conn.execute("SELECT policyname, cmd, roles::text[], qual FROM pg_policies "
                            "WHERE schemaname = 'public' AND tablename = %s ORDER BY 1", [table]).fetchall()
    return sorted(acl or []), rls, force, policies


@pytest.fixture
def fresh(db_url: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(db_url, autocommit=True) as conn:
        yield conn


@pytest.fixture
def dashboard_role(db_url: str, pg_admin_url: str) -> Iterator[str]:
    """A role the dashboards read as; its grants are removed before the database goes."""
    role = f"dash_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(pg_admin_url, autocommit=True) as admin:
        admin.execute(f'CREATE ROLE "{role}" NOLOGIN')  # generated name
    yield role
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute(f'DROP OWNED BY "{role}"')
    with psycopg.connect(pg_admin_url, autocommit=True) as admin:
        admin.execute(f'DROP ROLE IF EXISTS "{role}"')


class TestFreshDatabase:
    def test_fresh_database_gets_the_contract_tables_with_exact_types(self, fresh):
        assert warehouse.migrate(fresh) == ALL
        assert_contract(fresh)

    def test_sync_tables_live_in_ploomes_sync_and_staging_is_unlogged(self, fresh):
        warehouse.migrate(fresh)
        tables = dict(fresh.execute(
            "SELECT c.relname, c.relpersistence FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = 'ploomes_sync' AND c.relkind = 'r'").fetchall())
        registered = streams.registry()
        staging = {name for s in registered
                   for name in (s.stage, s.listing_stage, *([s.lines.stage] if s.lines else []))}
        assert set(tables) == {"schema_migrations", "stage_runs", "rejects", "watermarks", "run_history", "listings",
                               "listing_ranges", "api_budget", "webhook_inbox", "stale_alerts", "backfill_claims",
                               "suspects", "public_objects", "stream_tables",
                               *staging, *(s.archive for s in registered)}
        assert {name for name, persistence in tables.items() if persistence == "u"} == staging
        assert {"stage_deals", "stage_orders", "stage_order_items", "deleted_quotes"} <= set(tables)
        public = {row[0] for row in fresh.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'").fetchall()}
        assert public == set(PUBLIC)
        history = columns(fresh, "run_history", "ploomes_sync")
        assert history["streams"][0] == history["year_table"][0] == "jsonb"
        assert set(columns(fresh, "deleted_sales", "ploomes_sync")) >= set(CONTRACT["sales"]) | {
            "deleted_at", "run_id"}
        assert set(columns(fresh, "deleted_customers", "ploomes_sync")) >= set(CONTRACT["customers"]) | {
            "deleted_at", "run_id"}

    def test_every_table_of_a_stream_has_the_columns_of_its_spec(self, fresh):
        warehouse.migrate(fresh)
        for stream in streams.registry():
            stage = list(columns(fresh, stream.stage, "ploomes_sync"))
            assert stage == ["run_id", *stream.column_names], stream.name  # COPY order
            assert list(columns(fresh, stream.listing_stage, "ploomes_sync")) == ["run_id", *stream.listed]
            assert set(stream.column_names) | {"synced_at"} <= set(columns(fresh, stream.target))
            assert set(stream.column_names) | {"synced_at", "deleted_at", "run_id", "row_data"} <= set(
                columns(fresh, stream.archive, "ploomes_sync"))

    def test_tables_it_creates_in_public_start_with_row_level_security_on(self, fresh):
        warehouse.migrate(fresh)
        for table in CONTRACT:
            assert security(fresh, table)[1:] == (True, False, []), table

    def test_a_role_without_grants_cannot_reach_the_sync_schema(self, fresh, dashboard_role):
        warehouse.migrate(fresh)
        usage, execute = fresh.execute(
            "SELECT has_schema_privilege(%s, 'ploomes_sync', 'USAGE'), "
            "has_function_privilege(%s, 'ploomes_sync.conform_table(text, jsonb)', 'EXECUTE')",
            [dashboard_role, dashboard_role]).fetchone()
        assert (usage, execute) == (False, False)

    def test_the_ledger_holds_exactly_the_migration_files(self, fresh):
        warehouse.migrate(fresh)
        ledger = fresh.execute("SELECT version, name FROM ploomes_sync.schema_migrations ORDER BY version").fetchall()
        assert [f"{version:04d}_{name}" for version, name in ledger] == ALL

    def test_migrating_again_is_a_no_op(self, fresh):
        warehouse.migrate(fresh)
        ledger = "SELECT version, name, applied_at FROM ploomes_sync.schema_migrations ORDER BY version"
        before = fresh.execute(ledger).fetchall()
        assert warehouse.migrate(fresh) == []
        after = fresh.execute(ledger).fetchall()
        assert before == after and [row[:2] for row in after] == [(int(x[:4]), x[5:]) for x in ALL]

    def test_a_connection_without_autocommit_is_left_idle(self, db_url):
        with psycopg.connect(db_url) as conn:
            assert warehouse.migrate(conn) == ALL
            assert conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE

    def test_a_connection_with_an_open_transaction_is_refused(self, db_url):
        with psycopg.connect(db_url) as conn:
            conn.execute("SELECT 1")
            with pytest.raises(warehouse.ConnectionNotIdle):
                warehouse.migrate(conn)

    def test_two_concurrent_migrations_apply_each_file_once(self, db_url):
        from concurrent.futures import ThreadPoolExecutor

        def run() -> list[str]:
            with psycopg.connect(db_url) as conn:
                return warehouse.migrate(conn)

        with ThreadPoolExecutor(max_workers=2) as pool:
            first, second = pool.map(lambda _: run(), range(2))
        assert sorted(first + second) == ALL
        with psycopg.connect(db_url) as conn:
            ledger = conn.execute("SELECT count(*) FROM ploomes_sync.schema_migrations").fetchone()
            assert ledger == (len(ALL),)
            assert_contract(conn)


class TestMigrationFiles:
    def test_files_are_applied_in_version_order(self):
        assert [m.label for m in discover()] == ALL

    def test_a_badly_named_file_is_refused(self, tmp_path: Path):
        (tmp_path / "0001_ok.sql").write_text("SELECT 1;")
        (tmp_path / "2_bad name.sql").write_text("SELECT 1;")
        with pytest.raises(warehouse.MigrationError, match="NNNN"):
            discover(tmp_path)

    def test_two_files_with_one_version_are_refused(self, tmp_path: Path):
        (tmp_path / "0001_a.sql").write_text("SELECT 1;")
        (tmp_path / "0001_b.sql").write_text("SELECT 1;")
        with pytest.raises(warehouse.MigrationError, match="share version 1"):
            discover(tmp_path)


OLD_CUSTOMER_SALES = """
    CREATE TABLE public.customer_sales (customer_id integer primary key, customer_name text not null,
      cnpj text, total_revenue numeric(15,2), deal_count integer, avg_deal_size numeric(15,2),
      last_purchase_date timestamptz, last_sync_at timestamptz);
    INSERT INTO public.customer_sales VALUES
      (7, 'Antiga Ltda', '12345678000190', 1500.50, 3, 500.17, '2023-05-01T10:00:00-03:00',
       '2024-01-01T00:00:00Z'),
      (8, 'Outra SA', NULL, 0, 0, NULL, NULL, NULL);
"""

# A previous tool's sales: integer ids, text and float values, StatusId numbers, naive timestamps,
# no won/synced_at/pipeline..., and a NOT NULL column of its own.
OLD_SALES = """
    CREATE TABLE public.sales (id integer primary key, customer_id text, title varchar(200),
      deal_value double precision, status integer, created_at timestamp, updated_at text, closed_at date,
      legacy_note text not null);
    INSERT INTO public.sales VALUES
      (1, '42', 'Won "deal"\tA', 1234.5, 2, '2023-12-31 23:30:00', '2024-01-02T10:00:00-03:00',
       '2024-01-02', 'a'),
      (2, ' 43 ', 'Open deal', NULL, 1, '2022-06-01 08:00:00', '', NULL, 'b'),
      (3, NULL, NULL, 0.1, 3, NULL, NULL, NULL, 'c'),
      (4, '', 'no status', 7, NULL, '2021-01-01 00:00:00', '2021-01-01 00:00:00', NULL, 'd');
"""

OLD_CUSTOMERS = """
    CREATE TABLE public.customers (id text primary key, name text not null, cnpj bigint, zip_code integer,
      is_client text, created_at timestamptz);
    INSERT INTO public.customers VALUES
      ('42', 'Cliente', 1234567000190, 1310100, 'sim', '2020-01-01T00:00:00Z'),
      ('43', 'Outro', NULL, NULL, 'false', NULL),
      ('44', 'Sem tag', 12345678000190, 20040002, NULL, NULL);
"""

SAO_PAULO_OFFSET_HOURS = 3


class TestOlderShapes:
    def test_older_customer_sales_keeps_every_row_with_renamed_columns_mapped(self, fresh):
        fresh.execute(OLD_CUSTOMER_SALES)
        warehouse.migrate(fresh)
        assert_contract(fresh)
        rows = fresh.execute(
            "SELECT customer_id, customer_name, customer_cnpj, total_revenue, total_deals, "
            "average_deal_value, last_purchase_date, won_deals, total_sales, first_purchase_date "
            "FROM public.customer_sales "
            "ORDER BY 1").fetchall()
        assert rows == [
            (7, "Antiga Ltda", "12345678000190", Decimal("1500.50"), 3, Decimal("500.17"),
             datetime(2023, 5, 1, 13, tzinfo=UTC), None, None, None),
            (8, "Outra SA", None, Decimal("0.00"), 0, None, None, None, None, None),
        ]
        assert not {"cnpj", "deal_count", "avg_deal_size"} & set(columns(fresh, "customer_sales"))
        assert "customer_name" not in not_null(fresh, "customer_sales")

    def test_older_sales_from_a_previous_tool_keeps_every_row_converted_to_the_contract(self, fresh):
        fresh.execute(OLD_SALES)
        warehouse.migrate(fresh)
        assert_contract(fresh)
        rows = fresh.execute(
            "SELECT id, customer_id, title, deal_value, status, won, created_at, updated_at, closed_at, "
            "legacy_note, synced_at FROM public.sales ORDER BY id").fetchall()
        sp = SAO_PAULO_OFFSET_HOURS
        assert rows == [
            (1, 42, 'Won "deal"\tA', Decimal("1234.50"), "won", True, datetime(2024, 1, 1, 2, 30, tzinfo=UTC),
             datetime(2024, 1, 2, 13, tzinfo=UTC), datetime(2024, 1, 2, sp, tzinfo=UTC), "a", None),
            (2, 43, "Open deal", None, "open", False, datetime(2022, 6, 1, 11, tzinfo=UTC), None, None, "b",
             None),
            (3, None, None, Decimal("0.10"), "lost", False, None, None, None, "c", None),
            (4, None, "no status", Decimal("7.00"), None, False, datetime(2021, 1, 1, sp, tzinfo=UTC),
             datetime(2021, 1, 1, sp, tzinfo=UTC), None, "d", None),
        ]
        assert "legacy_note" not in not_null(fresh, "sales"), "the sync could not insert a row otherwise"

    def test_older_customers_get_padded_cnpj_and_zip_code_and_a_boolean_client_flag(self, fresh):
        fresh.execute(OLD_CUSTOMERS)
        warehouse.migrate(fresh)
        assert_contract(fresh)
        rows = fresh.execute("SELECT id, name, cnpj, zip_code, is_client, created_at FROM public.customers "
                             "ORDER BY id").fetchall()
        assert rows == [
            (42, "Cliente", "01234567000190", "01310100", True, datetime(2020, 1, 1, tzinfo=UTC)),
            (43, "Outro", None, None, False, None),
            (44, "Sem tag", "12345678000190", "20040002", None, None),
        ]

    def test_grants_policies_and_rls_of_older_tables_are_unchanged(self, fresh, dashboard_role):
        fresh.execute(OLD_SALES + OLD_CUSTOMERS + OLD_CUSTOMER_SALES)
        for table in ("sales", "customers", "customer_sales"):
            fresh.execute(f'GRANT SELECT ON public.{table} TO "{dashboard_role}"')
            fresh.execute(f"ALTER TABLE public.{table} ENABLE ROW LEVEL SECURITY")
            fresh.execute(f'CREATE POLICY dash_read ON public.{table} FOR SELECT TO "{dashboard_role}" '
                          "USING (true)")
        fresh.execute("ALTER TABLE public.sales FORCE ROW LEVEL SECURITY")
        fresh.execute(f'GRANT UPDATE (title) ON public.sales TO "{dashboard_role}"')
        older = ("sales", "customers", "customer_sales")
        before = {table: security(fresh, table) for table in older}
        warehouse.migrate(fresh)
        assert {table: security(fresh, table) for table in older} == before
        shapes = {table: columns(fresh, table) for table in CONTRACT}
        assert warehouse.migrate(fresh) == []  # and a second time is a no-op
        assert {table: columns(fresh, table) for table in CONTRACT} == shapes
        assert {table: security(fresh, table) for table in older} == before
        assert before["sales"][1:3] == (True, True)
        assert fresh.execute("SELECT count(*) FROM public.sales").fetchone()[0] == 4

    def test_the_sync_writes_over_older_rows_once_migrated(self, fresh):
        fresh.execute(OLD_SALES)
        warehouse.migrate(fresh)
        fresh.execute("DELETE FROM public.sales WHERE id = 3")  # it stays out of the merge below
        newer = deal(1, customer_id=42, title="from Ploomes", status="won",
                     updated_at=datetime(2025, 1, 1, tzinfo=UTC))
        stage(fresh, streams.registry()["deals"], "r1", [newer, deal(2, status="lost"), deal(5)])
        result = warehouse.merge(fresh, streams.registry()["deals"], "r1", move_watermark=False)
        assert (result.inserted, result.updated, result.unchanged) == (1, 2, 0)  # 2 had no updated_at
        rows = dict(fresh.execute("SELECT id, title FROM public.sales").fetchall())
        assert rows == {1: "from Ploomes", 2: "Deal 2", 4: "no status", 5: "Deal 5"}
        assert warehouse.aggregate_customer_sales(fresh).rows == 2

    def test_duplicate_ids_stop_the_migration_and_change_nothing(self, fresh):
        fresh.execute("CREATE TABLE public.sales (id bigint, title text); "
                      "INSERT INTO public.sales VALUES (1, 'a'), (1, 'b'), (NULL, 'c')")
        with pytest.raises(psycopg.errors.RaiseException, match="1 rows have no id, 1 rows repeat one"):
            warehouse.migrate(fresh)
        assert columns(fresh, "sales") == {"id": BIGINT, "title": TEXT}
        assert fresh.execute("SELECT count(*) FROM public.sales").fetchone()[0] == 3

    def test_a_value_that_does_not_convert_stops_the_migration_and_names_the_columns(self, fresh):
        fresh.execute("CREATE TABLE public.sales (id bigint primary key, deal_value text); "
                      "INSERT INTO public.sales VALUES (1, '10.50'), (2, '1.234,56')")
        invalid = psycopg.errors.InvalidTextRepresentation
        with pytest.raises(invalid, match=r"deal_value text -> numeric\(15,2\)"):
            warehouse.migrate(fresh)
        assert fresh.execute("SELECT deal_value FROM public.sales ORDER BY id").fetchall() == [("10.50",),
                                                                                                 ("1.234,56",)]
        # the migrations before it stay applied; once the value is fixed, the rest follow
        fresh.execute("UPDATE public.sales SET deal_value = '1234.56' WHERE id = 2")
        assert warehouse.migrate(fresh) == ALL[2:]
        assert_contract(fresh)

    def test_a_view_named_like_a_contract_table_is_refused(self, fresh):
        fresh.execute("CREATE VIEW public.sales AS SELECT 1 AS id")
        with pytest.raises(psycopg.errors.RaiseException, match="not a table"):
            warehouse.migrate(fresh)

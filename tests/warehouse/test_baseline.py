"""The baseline: a fresh database gets in one step exactly the schema the numbered migrations build."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest

from ploomes_devkit.postgres import create_database, drop_database
from ploomes_sync import warehouse
from ploomes_sync.warehouse.migrate import BASELINE, discover

from .test_migrate import OLD_CUSTOMER_SALES, OLD_SALES

SCHEMAS = ("public", "ploomes_sync")

# Each query describes one part of the catalogue of the two schemas, in a stable order, by name only
# (no oids), so two databases built two ways compare equal exactly when their schemas are the same.
CATALOGUE = {
    "relations": """
        SELECT n.nspname, c.relname, c.relkind, c.relpersistence, c.relrowsecurity, c.relforcerowsecurity,
               obj_description(c.oid, 'pg_class')
          FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = ANY(%(schemas)s) AND c.relkind IN ('r', 'v', 'm', 'p', 'S', 'i')
         ORDER BY 1, 2""",
    "columns": """
        SELECT n.nspname, c.relname, a.attnum, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,
               pg_get_expr(d.adbin, d.adrelid), a.attidentity, a.attgenerated,
               col_description(c.oid, a.attnum)
          FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
          JOIN pg_namespace n ON n.oid = c.relnamespace
          LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
         WHERE n.nspname = ANY(%(schemas)s) AND c.relkind IN ('r', 'v', 'p') AND a.attnum > 0
           AND NOT a.attisdropped
         ORDER BY 1, 2, 3""",
    "constraints": """
        SELECT n.nspname, c.relname, k.conname, k.contype, pg_get_constraintdef(k.oid)
          FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid
          JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = ANY(%(schemas)s)
         ORDER BY 1, 2, 3""",
    "indexes": """
        SELECT schemaname, tablename, indexname, indexdef FROM pg_indexes
         WHERE schemaname = ANY(%(schemas)s) ORDER BY 1, 2, 3""",
    "functions": """
        SELECT n.nspname, p.proname, pg_get_function_identity_arguments(p.oid), pg_get_functiondef(p.oid),
               p.proacl::text
          FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
         WHERE n.nspname = ANY(%(schemas)s)
         ORDER BY 1, 2, 3""",
    "views": """
        SELECT schemaname, viewname, definition FROM pg_views
         WHERE schemaname = ANY(%(schemas)s) ORDER BY 1, 2""",
    "policies": """
        SELECT schemaname, tablename, policyname, cmd, roles::text[], qual, with_check FROM pg_policies
         WHERE schemaname = ANY(%(schemas)s) ORDER BY 1, 2, 3""",
    "triggers": """
        SELECT n.nspname, c.relname, t.tgname, pg_get_triggerdef(t.oid)
          FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = ANY(%(schemas)s) AND NOT t.tgisinternal
         ORDER BY 1, 2, 3""",
    "grants": """
        SELECT n.nspname, c.relname, c.relacl::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = ANY(%(schemas)s) ORDER BY 1, 2""",
    "schemas": """
        SELECT nspname, nspacl::text, obj_description(oid, 'pg_namespace') FROM pg_namespace
         WHERE nspname = ANY(%(schemas)s) ORDER BY 1""",
}


def catalogue(conn: psycopg.Connection) -> dict[str, list[tuple]]:
    return {part: conn.execute(query, {"schemas": list(SCHEMAS)}).fetchall() for part, query in CATALOGUE.items()}


def ledger(conn: psycopg.Connection) -> list[tuple[int, str]]:
    return conn.execute("SELECT version, name FROM ploomes_sync.schema_migrations ORDER BY version").fetchall()


@pytest.fixture
def second_db(pg_admin_url: str) -> Iterator[str]:
    url = create_database(pg_admin_url)
    yield url
    drop_database(pg_admin_url, url)


class TestBaseline:
    def test_a_fresh_database_gets_the_schema_the_numbered_migrations_build(self, db_url, second_db):
        with psycopg.connect(db_url, autocommit=True) as by_baseline, \
                psycopg.connect(second_db, autocommit=True) as by_numbers:
            warehouse.migrate(by_baseline)
            warehouse.migrate(by_numbers, baseline=None)
            assert catalogue(by_baseline) == catalogue(by_numbers)
            assert ledger(by_baseline) == ledger(by_numbers)
            assert catalogue(by_baseline)["relations"], "the catalogue query found nothing to compare"

    def test_a_fresh_database_records_the_migrations_the_baseline_stands_for(self, db_url, caplog):
        with psycopg.connect(db_url, autocommit=True) as conn, caplog.at_level("INFO"):
            applied = warehouse.migrate(conn)
        labels = [migration.label for migration in discover()]
        assert applied == labels
        assert "applied the baseline of migrations" in caplog.text
        # Nothing the baseline stands for was also replayed one by one.
        assert not any(f"Applied migration {label}" in caplog.text
                       for label in labels[:BASELINE.version])

    def test_the_baseline_file_matches_the_last_migration_it_covers(self):
        covered = [m for m in discover() if m.version <= BASELINE.version]
        assert covered[-1].version == BASELINE.version
        assert any(file.startswith(f"baseline/{BASELINE.version:04d}_") for file in BASELINE.files)

    def test_an_already_migrated_database_is_left_as_it_is(self, db_url):
        with psycopg.connect(db_url, autocommit=True) as conn:
            warehouse.migrate(conn, baseline=None)
            before = catalogue(conn), ledger(conn)
            assert warehouse.migrate(conn) == []
            assert (catalogue(conn), ledger(conn)) == before

    @pytest.mark.parametrize("older", [OLD_SALES, OLD_CUSTOMER_SALES], ids=["sales", "customer_sales"])
    def test_an_older_contract_table_takes_the_numbered_path_and_keeps_its_rows(self, db_url, older, caplog):
        table = "public.sales" if "public.sales " in older else "public.customer_sales"
        with psycopg.connect(db_url, autocommit=True) as conn:
            conn.execute(older)
            rows = conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # fixed names above
            with caplog.at_level("INFO"):
                warehouse.migrate(conn)
            assert "applied the baseline" not in caplog.text
            assert "Applied migration 0001_sync_schema" in caplog.text
            assert conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0] == rows > 0
            assert [label for label, in conn.execute(
                "SELECT format('%s_%s', lpad(version::text, 4, '0'), name) FROM ploomes_sync.schema_migrations "
                "ORDER BY version")] == [m.label for m in discover()]

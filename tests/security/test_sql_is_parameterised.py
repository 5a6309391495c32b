"""Every value reaches PostgreSQL as a parameter or through COPY, never by building SQL text.

Statically: every statement handed to psycopg (``execute``, ``executemany``, ``copy``) or to the
warehouse helpers (``ploomes_sync.warehouse.connection``: ``fetchone``, ``fetchrow``, ``fetchall``,
``fetchdicts``, ``execute``, whose ``query`` is typed ``LiteralString``) is a string literal, the
text of a ``.sql`` file (``load(...)``), such a file's template filled with a stream's identifiers
(``statement(...)``: ``ploomes_sync.warehouse.statements``, which fills ``{name}`` fields with
``psycopg.sql.Identifier`` only), a ``psycopg.sql`` composition of identifiers, or a name bound
only to those. The dynamic SQL inside the migrations goes through ``format()`` with ``%I``.

Behaviourally: deal titles, contact names, rejected records and a run key made of SQL and of
placeholder syntax come out of the warehouse byte for byte, and no table went anywhere.
"""

from __future__ import annotations

import ast
import json
import re
import textwrap
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

from tests.support.connections import use_ploomes

ROOT = Path(__file__).resolve().parents[2]
PLUGINS = ROOT / "src" / "ploomes_sync"
SQL_DIR = ROOT / "include" / "sql"

DRIVER_METHODS = {"execute": 0, "executemany": 0, "copy": 0}  # psycopg connection/cursor: the query's position
HELPERS = {"fetchone": 1, "fetchrow": 1, "fetchall": 1, "fetchdicts": 1, "execute": 1}  # helper(conn, query, ...)
HELPER_MODULES = {"connection", "warehouse"}  # ``connection.execute(conn, ...)`` is the helper, not psycopg's
QUERY_KEYWORDS = {"query", "statement"}
COMPOSABLES = {"Identifier", "Literal", "Placeholder", "SQL"}  # psycopg.sql pieces that quote what they hold


@dataclass(frozen=True)
class Finding:
    where: str
    call: str
    query: str

    def __str__(self) -> str:
        return f"{self.where}: {self.call}(...) gets SQL built as `{self.query}`"


class _Checker:
    """Finds the calls that hand psycopg a statement not known to be fixed text."""

    def __init__(self, tree: ast.Module, name: str) -> None:
        self.tree, self.name = tree, name
        self.findings: list[Finding] = []
        self.checked = 0
        self._parents: dict[ast.AST, ast.AST] = {}
        for parent in ast.walk(tree):
            for child in ast.iter_child_nodes(parent):
                self._parents[child] = parent

    def run(self) -> _Checker:
        for node in ast.walk(self.tree):
            if isinstance(node, ast.Call):
                query = self._query_of(node)
                if query is not None:
                    self.checked += 1
                    if not self._fixed(query, node, depth=0):
                        self.findings.append(Finding(f"{self.name}:{node.lineno}", ast.unparse(node.func),
                                                     ast.unparse(query)))
        return self

    def _query_of(self, call: ast.Call) -> ast.expr | None:
        """The expression holding the statement, when ``call`` runs SQL."""
        func = call.func
        position = None
        if isinstance(func, ast.Name) and func.id in HELPERS:
            position = HELPERS[func.id]
        elif isinstance(func, ast.Attribute):
            module = func.value.id if isinstance(func.value, ast.Name) else None
            if func.attr in HELPERS and (module in HELPER_MODULES or func.attr != "execute") and len(call.args) >= 2:
                position = HELPERS[func.attr]
            elif func.attr in DRIVER_METHODS:
                position = DRIVER_METHODS[func.attr]
        if position is None:
            return None
        if len(call.args) > position:
            return call.args[position]
        return next((k.value for k in call.keywords if k.arg in QUERY_KEYWORDS), None)

    def _fixed(self, node: ast.expr, at: ast.AST, depth: int) -> bool:
        """Whether ``node`` can only be fixed statement text (or a composition quoting identifiers)."""
        if depth > 8:
            return False
        if isinstance(node, ast.Constant):
            return isinstance(node.value, str | bytes)
        if isinstance(node, ast.Call):
            func = node.func
            called = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
            # an include/sql file's text, or its template filled with the identifiers of a stream's
            # spec (ploomes_sync.warehouse.statements; its tables' column types from a fixed set)
            if called in ("load", "statement", "table_statement", "index_statement"):
                return True
            if called == "SQL":
                return len(node.args) == 1 and isinstance(node.args[0], ast.Constant)
            if called in ("format", "join") and isinstance(func, ast.Attribute) and self._composition(func.value):
                return all(self._composable(arg) for arg in [*node.args, *(k.value for k in node.keywords)])
            return False
        if isinstance(node, ast.Name):
            return self._name_fixed(node.id, at, depth)
        return False  # f-strings, %, +, str.format, "".join(...) of text, subscripts, attributes...

    def _composition(self, node: ast.expr) -> bool:
        return (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute | ast.Name)
                and (getattr(node.func, "attr", None) or getattr(node.func, "id", None)) == "SQL"
                and len(node.args) == 1 and isinstance(node.args[0], ast.Constant))

    def _composable(self, node: ast.expr) -> bool:
        if isinstance(node, ast.Call):
            func = node.func
            called = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
            return called in COMPOSABLES
        if isinstance(node, ast.List | ast.Tuple):
            return all(self._composable(element) for element in node.elts)
        return False

    def _literal_type(self, annotation: str) -> bool:
        """``LiteralString``, or a module-level alias of a union with it (``Query = LiteralString | ...``)."""
        if "LiteralString" in annotation:
            return True
        for node in self.tree.body:
            if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == annotation
                                                    for t in node.targets):
                return "LiteralString" in ast.unparse(node.value)
        return False

    def _name_fixed(self, name: str, at: ast.AST, depth: int) -> bool:
        """A name is fixed when every binding of it in the enclosing function (else module) is."""
        scope: ast.AST = at
        while scope in self._parents and not isinstance(scope, ast.FunctionDef | ast.AsyncFunctionDef):
            scope = self._parents[scope]
        if isinstance(scope, ast.FunctionDef | ast.AsyncFunctionDef):
            arguments = scope.args
            for arg in [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs]:
                if arg.arg == name:
                    return arg.annotation is not None and self._literal_type(ast.unparse(arg.annotation))
        else:
            scope = self.tree
        bindings: list[ast.expr | None] = []
        for node in ast.walk(scope):
            if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == name for t in node.targets):
                bindings.append(node.value)
            elif isinstance(node, ast.AnnAssign | ast.AugAssign) and isinstance(node.target, ast.Name) \
                    and node.target.id == name:
                bindings.append(None if isinstance(node, ast.AugAssign) else node.value)
            elif isinstance(node, ast.For | ast.withitem | ast.NamedExpr | ast.comprehension):
                target = getattr(node, "target", None) or getattr(node, "optional_vars", None)
                if target is not None and any(isinstance(n, ast.Name) and n.id == name for n in ast.walk(target)):
                    bindings.append(None)
        return bool(bindings) and all(b is not None and self._fixed(b, b, depth + 1) for b in bindings)


def check_source(source: str, name: str = "<source>") -> _Checker:
    return _Checker(ast.parse(source), name).run()


def check_plugins() -> tuple[list[Finding], int]:
    findings, checked = [], 0
    for path in sorted(PLUGINS.rglob("*.py")):
        checker = check_source(path.read_text(encoding="utf-8"), str(path.relative_to(ROOT)))
        findings += checker.findings
        checked += checker.checked
    return findings, checked


class TestStatementsAreFixedText:
    def test_every_statement_the_plugins_run_is_fixed_text(self):
        findings, checked = check_plugins()
        assert not findings, "\n".join(map(str, findings))
        assert checked >= 25, f"only {checked} SQL calls found: is the checker still looking at the code?"

    @pytest.mark.parametrize("bad", [
        'conn.execute(f"DELETE FROM t WHERE run_id = \'{run_id}\'")',
        'conn.execute("DELETE FROM t WHERE run_id = \'%s\'" % run_id)',
        'conn.execute("DELETE FROM t WHERE run_id = \'{}\'".format(run_id))',
        'conn.execute("DELETE FROM t WHERE run_id = \'" + run_id + "\'")',
        'cur.executemany("INSERT INTO t VALUES (" + ", ".join(values) + ")", rows)',
        'cur.copy(f"COPY {table} FROM STDIN")',
        'fetchall(conn, load("a.sql") + f" WHERE id = {deal_id}")',
        'fetchrow(conn, query=f"SELECT {column} FROM t")',
        'connection.execute(conn, "SELECT 1 WHERE x = " + value)',
        'statement = f"SELECT * FROM t WHERE id = {deal_id}"\nconn.execute(statement)',
        'def run(conn, query: str):\n    conn.execute(query)',
        'conn.execute(sql.SQL("SELECT * FROM {}").format(table_name))',
        'conn.execute(sql.SQL(f"SELECT * FROM {table}"))',
    ])
    def test_the_check_catches_sql_built_from_text(self, bad):
        checker = check_source(textwrap.dedent(bad))
        assert checker.checked == 1 and len(checker.findings) == 1, bad

    @pytest.mark.parametrize("good", [
        'conn.execute("SELECT clock_timestamp()")',
        'cur.execute(load("staging/register.sql"), {"run_id": run_id})',
        'cur.copy(load(f"staging/copy_{stream}.sql"))',
        'cur.copy(statement("staging/copy.sql", stream))',
        'statement = load("merge/sales.sql")\nfetchrow(conn, statement, {"run_id": run_id})',
        'def run(conn, query: LiteralString, params=None):\n    conn.execute(query, params)',
        'Query = LiteralString | sql.Composable\ndef run(conn, query: Query):\n    conn.execute(query)',
        'conn.execute(sql.SQL("SELECT * FROM {} WHERE id = %s").format(sql.Identifier(name)), [deal_id])',
    ])
    def test_the_check_accepts_fixed_statements(self, good):
        checker = check_source(textwrap.dedent(good))
        assert checker.checked == 1 and checker.findings == [], good


def _plpgsql_executes(text: str) -> list[str]:
    """Each ``EXECUTE ...;`` of a PL/pgSQL body (comments removed)."""
    code = re.sub(r"--[^\n]*", "", text)
    return [match.group(0) for match in re.finditer(r"\bEXECUTE\b.*?;", code, flags=re.S | re.I)]


class TestSqlFiles:
    def test_dynamic_sql_in_the_migrations_goes_through_format_with_quoted_identifiers(self):
        executes = {path.name: _plpgsql_executes(path.read_text(encoding="utf-8"))
                    for path in sorted(SQL_DIR.rglob("*.sql"))}
        found = [(name, statement) for name, statements in executes.items() for statement in statements]
        assert found, "the conform helpers run dynamic SQL: the check should see it"
        for name, statement in found:
            # What put back the objects that depended on a converted column is the catalog's own
            # definitions of them (pg_get_viewdef, pg_get_expr...) in statements ploomes_sync.dependents
            # builds with format(): conform_table executes that list as it is.
            if name == "helpers.sql" and re.fullmatch(r"EXECUTE (v_step|v_deps -> 'adapted' ->> v_step);", statement):
                continue
            # EXECUTE format('<fixed template>', ...): never EXECUTE 'text' || value, nor a template
            # glued to anything; values never enter as literals (%L), only identifiers as %I.
            template = re.match(r"EXECUTE\s+format\(\s*'((?:[^']|'')*)'\s*[,)]", statement, flags=re.I)
            assert template, (name, statement)
            assert "%L" not in template.group(1) and "quote_literal" not in statement, (name, statement)
            assert re.search(r"%(\d\$)?I", template.group(1)), (name, statement)

    def test_statement_files_take_values_only_as_named_parameters(self):
        from ploomes_sync.streams import registry
        from ploomes_sync.warehouse.statements import fields

        # the only template fields: tables and column lists of a spec (of any stream: orders' lines too),
        # and in the templates of the streams' own tables, their names, columns and fixed column types
        identifiers = {name for stream in registry() for name in fields(stream)}
        own_tables = {"unlogged", "table", "definitions", "additions", "index", "columns"}
        for path in sorted(SQL_DIR.rglob("*.sql")):
            if path.parent.name in ("migrations", "roles") or path.name == "helpers.sql":  # run whole,
                continue  # never with parameters
            code = re.sub(r"--[^\n]*", "", path.read_text(encoding="utf-8"))
            code = re.sub(r"%\(\w+\)s", "", code)
            assert "%" not in code, f"{path.relative_to(ROOT)}: a % that is not a %(name)s parameter"
            allowed = identifiers | (own_tables if path.name in ("stream_table.sql", "stream_index.sql") else set())
            unknown = set(re.findall(r"\{(\w+)\}", code)) - allowed  # ('{}' is a json literal)
            assert not unknown, f"{path.relative_to(ROOT)}: template fields {unknown} are not identifiers of a spec"

    def test_template_fields_are_filled_with_quoted_identifiers_only(self):
        from psycopg import sql

        from ploomes_sync.streams import registry
        from ploomes_sync.warehouse.statements import fields

        # the fixed SQL that joins identifiers (no value is ever part of a field)
        fixed = {", ", " = ", "NULL::bigint", "NULL::integer", "NULL::numeric", "NULL::timestamptz",
                 "extract(year FROM coalesce(",
                 ") AT TIME ZONE %(tz)s)::integer", "CASE WHEN ", " THEN ", " END"}

        def pieces(node):
            if isinstance(node, sql.Composed):
                for part in node:
                    yield from pieces(part)
            else:
                yield node

        for stream in registry():
            for name, value in fields(stream).items():
                kinds = {type(piece).__name__ for piece in pieces(value)}
                assert kinds <= {"Identifier", "SQL"}, (name, kinds)
                assert all(piece.as_string(None) in fixed for piece in pieces(value)
                           if isinstance(piece, sql.SQL)), name


# --- behaviour -----------------------------------------------------------------------------------------

HOSTILE = [
    "'); DROP TABLE public.sales; --",
    "%(x)s and %(run_id)s",
    "%s %% %d",
    "$1 $2::text",
    "$$; DROP TABLE public.customers; $$",
    "E'\\x27' \\' \\\\ back\\slash",
    "linha 1\n\\.\nlinha 3",  # COPY's end-of-data marker on a line of its own
    "tab\tseparated\tvalues\r\n",
    "{run_id} {0} ${x}",
    "Robert'); DELETE FROM ploomes_sync.watermarks; --",
]
HOSTILE_RUN_KEY = "manual__2026-01-01'); DROP TABLE ploomes_sync.run_history; --%(run_id)s$1"


@pytest.fixture
def hostile_sim(api_key, monkeypatch):
    from ploomes_simulator import SimulatorConfig, run_in_thread

    with run_in_thread(SimulatorConfig(deals=120, contacts=20, seed=3, api_key=api_key, rate_limit=0)) as sim:
        use_ploomes(monkeypatch, sim.url, api_key, requests_per_minute=600_000, backoff_base=0.01,
                    backoff_max=0.05, trust_env=False)
        yield sim


class TestHostileValues:
    def test_sql_and_placeholder_syntax_in_the_data_loads_byte_for_byte(self, hostile_sim, db_url):
        from ploomes_devkit.pipeline import Pipeline
        from ploomes_sync.config import SyncConfig
        from ploomes_sync.streams import registry

        admin = hostile_sim.admin
        contact = admin.truth_contacts()[0]
        deal_ids = [admin.create_deal(Title=title, ContactId=contact["Id"])["Id"] for title in HOSTILE]
        admin.update_contact(contact["Id"], Name=HOSTILE[0], LegalName=HOSTILE[1])
        bad = admin.create_deal_raw({"Id": 999_000_001, "Title": HOSTILE[6], "Amount": HOSTILE[0],
                                     "StatusId": 1, "CreateDate": "2024-05-01T10:00:00-03:00",
                                     "LastUpdateDate": "2024-05-01T10:00:00-03:00"})

        Pipeline(db_url, config=SyncConfig()).run(run_id=HOSTILE_RUN_KEY, run_type="manual")

        with psycopg.connect(db_url) as conn:
            titles = dict(conn.execute("SELECT id, title FROM public.sales WHERE id = ANY(%s)", [deal_ids]))
            name, legal_name = conn.execute("SELECT name, legal_name FROM public.customers WHERE id = %s",
                                            [contact["Id"]]).fetchone()
            rejects = conn.execute("SELECT run_id, record_id, raw FROM ploomes_sync.rejects "
                                   "WHERE stream = 'deals'").fetchall()
            status = conn.execute("SELECT status FROM ploomes_sync.run_history WHERE run_id = %s",
                                  [HOSTILE_RUN_KEY]).fetchone()
            tables = {row[0] for row in conn.execute(
                "SELECT schemaname || '.' || tablename FROM pg_tables WHERE schemaname IN ('public', 'ploomes_sync')")}
            sales = conn.execute("SELECT count(*) FROM public.sales").fetchone()[0]
            watermarks = conn.execute("SELECT count(*) FROM ploomes_sync.watermarks").fetchone()[0]
        assert titles == dict(zip(deal_ids, HOSTILE, strict=True))
        assert (name, legal_name) == (HOSTILE[0], HOSTILE[1])
        assert status == ("success",)
        assert {"public.sales", "public.customers", "public.customer_sales", "ploomes_sync.run_history",
                "ploomes_sync.watermarks"} <= tables
        assert sales == len(admin.truth_deals()) - 1 and watermarks == len(registry().names)
        (reject,) = [r for r in rejects if r[1] == str(bad["Id"])]
        assert reject[0] == HOSTILE_RUN_KEY
        assert json.loads(reject[2])["Title"] == HOSTILE[6] and json.loads(reject[2])["Amount"] == HOSTILE[0]

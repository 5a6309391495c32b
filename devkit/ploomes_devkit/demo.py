"""``make demo``: the whole sync on this machine, in one command, on loopback only.

Starts the Ploomes simulator, a warehouse, an SMTP server that catches the alert e-mails and Airflow
(LocalExecutor, its metadata in PostgreSQL as in production), unpauses the DAG, triggers one run
through the REST API, waits for it while printing its tasks' states, then prints the per-year
table of that run next to the simulator's own truth (MATCH or MISMATCH) and the UI's address and
login. Airflow then keeps running
until Ctrl-C; ``--once`` stops everything after the run instead (exit 1 on failure or mismatch).
"""

from __future__ import annotations

import argparse
import contextlib
import html
import json
import os
import re
import secrets
import shutil
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import psycopg

from ploomes_devkit.airflow_standalone import (
    DEFAULT_PREFERRED_PORT,
    AirflowClient,
    AirflowError,
    AirflowStandalone,
    free_port,
)
from ploomes_devkit.postgres import LOCAL_SERVER_URL, admin_server, create_database, drop_database, sqlalchemy_url
from ploomes_devkit.simulator_process import SimulatorError, SimulatorProcess
from ploomes_sync.settings import (
    API_POOL,
    API_POOL_SLOTS,
    DAG_ID,
    WATCHDOG_DAG_ID,
    WEBHOOK_DAG_ID,
    WEBHOOK_SETUP_DAG_ID,
)
from ploomes_sync.warehouse.sqlfiles import load

ROOT = Path(__file__).resolve().parents[2]
SAO_PAULO = ZoneInfo("America/Sao_Paulo")
CENT = Decimal("0.01")
DEFAULT_DEALS = 30_000
DEFAULT_TIMEOUT = 1800.0
ALERT_RECIPIENTS = "data-team@demo.local"
SHOWN_TASK_STATES = frozenset({"running", "success", "failed", "up_for_retry", "upstream_failed", "skipped"})

EPILOG = """\
environment:
  SALES_DB_URL          warehouse to sync into (a PostgreSQL URL), used as it is. Without it: a fresh
                        database on the PostgreSQL at 127.0.0.1:5432 when that answers, else on a
                        throwaway server the demo starts; that database is dropped on exit.
  PLOOMES_DEMO_DEALS    deals the simulator generates (default 30000; e.g. 2000 for a quick run)
  PLOOMES_DEMO_PORT     port of Airflow's UI and API (default 8080 when free, else any free port)
  PLOOMES_DEMO_TIMEOUT  seconds to wait for the run (default 1800)
  PLOOMES_DEMO_DIR      the demo's files (default .demo/ in the checkout): Airflow's home
                        (recreated on every start), Airflow's log, the simulator's log

Everything listens on 127.0.0.1 only.
"""


class DemoError(RuntimeError):
    """The demo cannot go on; the message says why."""


# --- output --------------------------------------------------------------------------------------


class Console:
    """Short, timestamped lines (elapsed time since the start); thread-safe."""

    def __init__(self) -> None:
        self.started = time.monotonic()
        self._lock = threading.Lock()

    def elapsed(self) -> str:
        """Time since the start, ``m:ss``."""
        seconds = int(time.monotonic() - self.started)
        return f"{seconds // 60:2d}:{seconds % 60:02d}"

    def say(self, text: str = "") -> None:
        """Print a line as it is."""
        with self._lock:
            print(text, flush=True)

    def step(self, text: str) -> None:
        """Print a line with the elapsed time."""
        self.say(f"[{self.elapsed()}] {text}")


def shown(path: Path) -> str:
    """``path`` relative to the repository when it is inside it."""
    with contextlib.suppress(ValueError):
        return str(path.relative_to(ROOT))
    return str(path)


# --- SMTP ----------------------------------------------------------------------------------------


@dataclass
class AlertInbox:
    """An aiosmtpd handler that keeps the alert e-mails and prints their subjects as they arrive."""

    console: Console
    port: int = 0
    subjects: list[str] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 (aiosmtpd)
        message = message_from_bytes(envelope.content, policy=policy.default)
        subject = str(message.get("Subject", "(no subject)"))
        self.subjects.append(subject)
        self.console.step(f"alert e-mail to {', '.join(envelope.rcpt_tos)}: {subject}")
        for line in email_text(message).splitlines():
            self.console.say(f"            | {line}")
        return "250 OK"


def email_text(message: Any) -> str:
    """An alert e-mail's body as plain text (its HTML's tags dropped, paragraphs kept), whole."""
    part = message.get_body(preferencelist=("plain", "html"))
    text = part.get_content() if part is not None else ""
    if part is not None and part.get_content_subtype() == "html":
        text = re.sub(r"</(p|h\d|pre|li)>|<br\s*/?>", "\n", text)
        text = html.unescape(re.sub(r"<[^>]+>", "", text))
    return "\n".join(line.rstrip() for line in text.splitlines() if line.strip())


@contextlib.contextmanager
def smtp_inbox(console: Console) -> Iterator[AlertInbox]:
    """A real SMTP server on a free loopback port (aiosmtpd, in a thread)."""
    from aiosmtpd.controller import Controller

    inbox = AlertInbox(console, port=free_port())
    controller = Controller(inbox, hostname="127.0.0.1", port=inbox.port)
    controller.start()
    try:
        yield inbox
    finally:
        controller.stop()


# --- warehouse -----------------------------------------------------------------------------------


def describe_url(url: str) -> str:
    """``host:port/db`` of a PostgreSQL URL, without credentials."""
    parts = urlsplit(url)
    return f"{parts.hostname}:{parts.port or 5432}{parts.path}"


@contextlib.contextmanager
def fresh_database(admin_url: str, prefix: str) -> Iterator[str]:
    """A new database on the server of ``admin_url``, dropped on exit."""
    url = create_database(admin_url, prefix=prefix)
    try:
        yield url
    finally:
        with contextlib.suppress(psycopg.Error):
            drop_database(admin_url, url)


def server_described(admin_url: str) -> str:
    return ("the PostgreSQL already running at 127.0.0.1:5432" if admin_url == LOCAL_SERVER_URL
            else f"a throwaway PostgreSQL started for the demo ({describe_url(admin_url)})")


@contextlib.contextmanager
def warehouse(console: Console, admin_url: str) -> Iterator[str]:
    """``SALES_DB_URL`` when set; else a fresh database on the demo's server (``admin_url``)."""
    given = os.environ.get("SALES_DB_URL")
    if given:
        console.step(f"warehouse   SALES_DB_URL ({describe_url(given)})")
        yield given
        return
    with fresh_database(admin_url, "ploomes_demo") as url:
        console.step(f"warehouse   fresh database {urlsplit(url).path.lstrip('/')} on "
                     f"{server_described(admin_url)}; dropped on exit")
        yield url


def postgres_connection(url: str) -> dict[str, Any]:
    """An Airflow connection (JSON form) for the PostgreSQL at ``url``; other URL options go to extras."""
    info = psycopg.conninfo.conninfo_to_dict(url)
    conn: dict[str, Any] = {"conn_type": "postgres", "host": info.pop("host", "127.0.0.1"),
                            "port": int(info.pop("port", 5432)), "schema": info.pop("dbname", "postgres")}
    for key, target in (("user", "login"), ("password", "password")):
        if info.get(key):
            conn[target] = info.pop(key)
    if info:
        conn["extra"] = {key: str(value) for key, value in info.items()}
    return conn


# --- the truth, per year -------------------------------------------------------------------------


@dataclass
class YearFigures:
    """Deals and won revenue of one year."""

    deals: int = 0
    won_revenue: Decimal = Decimal("0.00")


def money(value: Any) -> Decimal:
    """A Ploomes amount rounded to cents, as the warehouse stores it (numeric(15,2))."""
    text = repr(value) if isinstance(value, float) else str(value)
    return Decimal(text).quantize(CENT, rounding=ROUND_HALF_UP)


def truth_by_year(deals: list[dict[str, Any]]) -> dict[int, YearFigures]:
    """Deals and won revenue (StatusId 2) per São Paulo calendar year of CreateDate."""
    years: dict[int, YearFigures] = {}
    for deal in deals:
        created = datetime.fromisoformat(deal["CreateDate"]).astimezone(SAO_PAULO)
        figures = years.setdefault(created.year, YearFigures())
        figures.deals += 1
        if deal.get("StatusId") == 2 and deal.get("Amount") is not None:
            figures.won_revenue += money(deal["Amount"])
    return years


def run_history(db_url: str, run_id: str) -> dict[str, Any] | None:
    """The run's row of ``ploomes_sync.run_history``, or None."""
    with psycopg.connect(db_url, autocommit=True) as conn, \
            conn.cursor(row_factory=psycopg.rows.dict_row) as cur:
        try:
            cur.execute("SELECT status, mode, streams, api_requests, year_table, error "
                        "FROM ploomes_sync.run_history WHERE run_id = %s", [run_id])
        except psycopg.errors.UndefinedTable:
            return None
        return cur.fetchone()


def warehouse_by_year(db_url: str) -> dict[Any, YearFigures] | None:
    """Deals and won revenue per São Paulo year of ``public.sales``, as a dashboard reads them."""
    with psycopg.connect(db_url, autocommit=True) as conn:
        try:
            rows = conn.execute(
                "SELECT extract(year FROM created_at AT TIME ZONE 'America/Sao_Paulo')::int, count(*), "
                "coalesce(sum(deal_value) FILTER (WHERE won), 0) FROM public.sales GROUP BY 1").fetchall()
        except psycopg.errors.UndefinedTable:
            return None
    return {year: YearFigures(int(deals), Decimal(revenue)) for year, deals, revenue in rows}


def year_report(
    synced: Mapping[Any, YearFigures] | None, truth: Mapping[int, YearFigures]
) -> tuple[str, bool]:
    """The per-year table (``public.sales`` next to the truth) and whether every year matches."""
    years = sorted(set(truth) | set(synced or {}), key=lambda year: (year is None, year or 0))
    synced = synced or {}
    header = (f"{'year':>6}  {'deals (truth)':>13}  {'deals (warehouse)':>17}  "
              f"{'won revenue (truth)':>19}  {'won revenue (warehouse)':>23}")
    lines, all_ok = [header, "-" * len(header)], bool(years) and bool(synced)
    total_truth, total_synced = YearFigures(), YearFigures()
    for year in years:
        want, got = truth.get(year), synced.get(year)
        ok = (want is not None and got is not None
              and (want.deals, want.won_revenue) == (got.deals, got.won_revenue))
        all_ok = all_ok and ok
        for total, figures in ((total_truth, want), (total_synced, got)):
            if figures is not None:
                total.deals += figures.deals
                total.won_revenue += figures.won_revenue
        lines.append(f"{'(none)' if year is None else year:>6}  {_count(want):>13}  {_count(got):>17}  "
                     f"{_revenue(want):>19}  {_revenue(got):>23}  {'ok' if ok else 'DIFFERS'}")
    lines.append("-" * len(header))
    lines.append(f"{'total':>6}  {total_truth.deals:>13,}  {total_synced.deals:>17,}  "
                 f"{total_truth.won_revenue:>19,.2f}  {total_synced.won_revenue:>23,.2f}")
    return "\n".join(lines), all_ok


def _count(figures: YearFigures | None) -> str:
    return "-" if figures is None else f"{figures.deals:,}"


def _revenue(figures: YearFigures | None) -> str:
    return "-" if figures is None else f"{figures.won_revenue:,.2f}"


def _plain(value: Decimal | None, places: int | None = None) -> str:
    """``3.0000`` -> ``3``, ``2.5000`` -> ``2.5``; with ``places``, that many (``1,234.50``); ``-`` for null."""
    if value is None:
        return "-"
    return f"{value:,.{places}f}" if places is not None else f"{value.normalize():,f}"


def runs_report(db_url: str) -> str:
    """Every run the demo's Airflow made, oldest first, as ``ploomes_sync.run_history`` records it: the
    full sync first (records read, pages, requests, time), then what came after."""
    with psycopg.connect(db_url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT run_id, run_type, mode, status, api_requests, extract(epoch FROM finished_at - started_at), "
            "(SELECT sum((s.value ->> 'fetched')::bigint) FROM jsonb_each(streams) AS s), "
            "(SELECT sum((s.value ->> 'pages')::bigint) FROM jsonb_each(streams) AS s) "
            "FROM ploomes_sync.run_history WHERE run_type <> 'webhook' ORDER BY started_at").fetchall()
    header = f"{'run':<48} {'type':<10} {'mode':<12} {'status':<8} {'read':>8} {'pages':>6} {'requests':>9} {'took':>8}"
    lines = ["The runs so far (ploomes_sync.run_history), oldest first:", header, "-" * len(header)]
    for run_id, run_type, mode, status, requests, seconds, fetched, pages in rows:
        took = f"{seconds:.0f} s" if seconds is not None else "running"
        lines.append(f"{run_id[:48]:<48} {run_type or '':<10} {mode or '':<12} {status or '':<8} "
                     f"{int(fetched or 0):>8,} {int(pages or 0):>6,} {int(requests or 0):>9,} {took:>8}")
    return "\n".join(lines)


def price_history_report(db_url: str, limit: int = 12) -> str:
    """One customer's price history as the dashboard's modal shows it (``customer_price_history``):
    the customer with the most lines, product by product, oldest sale first."""
    with psycopg.connect(db_url, autocommit=True) as conn:
        try:
            found = conn.execute(
                "SELECT h.customer_id, c.name, count(*) FROM public.customer_price_history AS h "
                "LEFT JOIN public.customers AS c ON c.id = h.customer_id WHERE h.customer_id IS NOT NULL "
                "GROUP BY 1, 2 ORDER BY 3 DESC, 1 LIMIT 1").fetchone()
            if found is None:
                return "No customer has bought anything yet (customer_price_history is empty)."
            customer_id, name, total = found
            rows = conn.execute(
                "SELECT product_code, product_name, (sold_at AT TIME ZONE 'America/Sao_Paulo')::date, quantity, "
                "unit_price, discount_percent, net_unit_price, source, source_id FROM public.customer_price_history "
                "WHERE customer_id = %s ORDER BY product_id, sold_at LIMIT %s", [customer_id, limit]).fetchall()
        except psycopg.errors.UndefinedTable:
            return "The price history is not there (public.customer_price_history is missing)."
    header = (f"{'product':<28}  {'sold on':>10}  {'quantity':>9}  {'unit price':>11}  {'discount':>8}  "
              f"{'net unit price':>14}  from")
    lines = [f"Price history of customer {customer_id} ({name or 'unnamed'}), as the dashboard's modal shows it "
             "(customer_price_history):", header, "-" * len(header)]
    for code, product, sold_on, quantity, unit_price, discount, net, source, source_id in rows:
        label = f"{code} {product}" if code else f"{product} (no product)" if product else "(no name)"
        lines.append(f"{label[:28]:<28}  {sold_on!s:>10}  {_plain(quantity):>9}  {_plain(unit_price, 2):>11}  "
                     f"{_plain(discount) + '%':>8}  {_plain(net, 2):>14}  {source} {source_id}")
    if total > len(rows):
        lines.append(f"... and {total - len(rows)} more lines")
    return "\n".join(lines)


def by_name_report(db_url: str, field: str = "Segmento", option: str = "Hospital") -> str:
    """A dashboard's question asked by name, as docs/warehouse.md shows it: the won revenue per year of
    the deals whose custom field ``field`` is ``option`` (``include/sql/examples``)."""
    with psycopg.connect(db_url, autocommit=True) as conn:
        try:
            rows = conn.execute(load("examples/won_revenue_by_option.sql"),
                                {"field": field, "option": option}).fetchall()
        except psycopg.errors.UndefinedTable:
            return "The account's vocabulary is not there (public.custom_field_values is missing)."
    lines = [f"Asked by name (custom_field_values): won revenue per year of the deals whose {field} is {option}:",
             f"{'year':>6}  {'won revenue':>15}"]
    lines += [f"{year:>6}  {_plain(revenue, 2):>15}" for year, revenue in rows] or ["  (no such deal)"]
    return "\n".join(lines)


# --- following a run -----------------------------------------------------------------------------


def follow_run(client: AirflowClient, run_id: str, console: Console, *, timeout: float,
               alive: Callable[[], None]) -> dict[str, Any]:
    """Wait for the run, printing its state and its tasks' states as they change."""
    deadline = time.monotonic() + timeout
    run_state: str | None = None
    tasks: dict[str, str | None] = {}
    ahead: dict[str, str] = {}  # runs ours waited for: run id -> run type
    while True:
        alive()
        run = client.get_dag_run(DAG_ID, run_id)
        states = client.task_states(DAG_ID, run_id)
        if run["state"] == "queued":
            for other in client.list_dag_runs(DAG_ID, state="running"):
                if other["dag_run_id"] != run_id and other["dag_run_id"] not in ahead:
                    ahead[other["dag_run_id"]] = other["run_type"]
                    console.step(f"  waiting for the {other['run_type']} run {other['dag_run_id']} "
                                 "(the DAG runs one at a time: max_active_runs=1)")
        elif ahead:
            for other_id, run_type in ahead.items():
                other_state = client.get_dag_run(DAG_ID, other_id)["state"]
                console.step(f"  the {run_type} run {other_id} ended: {other_state}")
            ahead.clear()
        changed = [f"{task} {state}" for task, state in states.items()
                   if state != tasks.get(task) and state in SHOWN_TASK_STATES]
        tasks = states
        if changed:
            console.step("  " + ", ".join(changed))
        if run["state"] != run_state:
            run_state = run["state"]
            console.step(f"  run {run_state}")
        if run_state in ("success", "failed"):
            return run
        if time.monotonic() > deadline:
            raise DemoError(f"The run did not finish within {timeout:.0f}s (set PLOOMES_DEMO_TIMEOUT). "
                            f"Task states: {states}")
        time.sleep(2)


def explain_failure(client: AirflowClient, run_id: str, console: Console) -> None:
    """The failed tasks and the end of their logs."""
    for ti in client.task_instances(DAG_ID, run_id):
        if ti["state"] != "failed":
            continue
        console.say(f"  {ti['task_id']} failed (try {ti['try_number']}); end of its log:")
        with contextlib.suppress(AirflowError):
            log = client.task_log(DAG_ID, run_id, ti["task_id"], max(1, ti["try_number"]))
            for line in log.splitlines()[-12:]:
                console.say(f"    {line[:200]}")


# --- the demo ------------------------------------------------------------------------------------


@dataclass
class DemoOptions:
    """The command line, resolved."""

    once: bool
    deals: int
    port: int | None
    timeout: float
    workdir: Path


def parse_args(argv: list[str] | None = None) -> DemoOptions:
    """Options from the command line, with defaults from the environment (see ``--help``)."""
    parser = argparse.ArgumentParser(
        prog="python -m ploomes_devkit.demo",
        description="Simulator + PostgreSQL + Airflow standalone on loopback; one run of ploomes_sales_sync; "
        "the per-year table against the simulator's truth.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--once", action="store_true",
                        help="stop everything after the run; exit 1 when it failed or the table differs")
    parser.add_argument("--deals", type=int,
                        default=int(os.environ.get("PLOOMES_DEMO_DEALS") or DEFAULT_DEALS),
                        help="deals the simulator generates (env PLOOMES_DEMO_DEALS; default %(default)s)")
    parser.add_argument("--port", type=int, default=int(os.environ.get("PLOOMES_DEMO_PORT") or 0) or None,
                        help="Airflow's port (env PLOOMES_DEMO_PORT; default 8080 when free)")
    parser.add_argument("--workdir", type=Path,
                        default=Path(os.environ.get("PLOOMES_DEMO_DIR") or ROOT / ".demo"),
                        help="the demo's files (env PLOOMES_DEMO_DIR; default .demo/ in the checkout)")
    parser.add_argument("--timeout", type=float,
                        default=float(os.environ.get("PLOOMES_DEMO_TIMEOUT") or DEFAULT_TIMEOUT),
                        help="seconds to wait for the run (env PLOOMES_DEMO_TIMEOUT; default %(default)s)")
    args = parser.parse_args(argv)
    if args.deals < 1:
        parser.error("--deals must be at least 1")
    return DemoOptions(once=args.once, deals=args.deals, port=args.port, timeout=args.timeout,
                       workdir=args.workdir.resolve())


@contextlib.contextmanager
def demo_lock(workdir: Path) -> Iterator[None]:
    """One demo at a time per checkout (they share ``.demo/``)."""
    workdir.mkdir(parents=True, exist_ok=True)
    pid_file = workdir / "demo.pid"
    with contextlib.suppress(FileNotFoundError, ValueError):
        other = int(pid_file.read_text())
        if other != os.getpid() and Path(f"/proc/{other}").exists():
            raise DemoError(f"Another demo is running (pid {other}); stop it first (Ctrl-C in its terminal).")
    pid_file.write_text(str(os.getpid()))
    try:
        yield
    finally:
        pid_file.unlink(missing_ok=True)


def _terminate(signum: int, frame: Any) -> None:
    """SIGTERM handler: unwind like Ctrl-C, so everything started is stopped."""
    raise KeyboardInterrupt


def shield() -> None:
    """Ignore Ctrl-C and SIGTERM from now on, so a shutdown in progress is not cut short."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


def run_demo(options: DemoOptions, console: Console) -> int:
    """The demo itself; the exit code. Whatever it started is stopped before it returns or raises,
    and once stopping has begun, Ctrl-C and SIGTERM are ignored so the shutdown completes."""
    with contextlib.ExitStack() as stack:
        try:
            return _demo(stack, options, console)
        finally:
            shield()


def _demo(stack: contextlib.ExitStack, options: DemoOptions, console: Console) -> int:
    """Start everything on ``stack``, make the run, print the report; the exit code."""
    workdir = options.workdir
    home = workdir / "airflow"
    airflow_log = workdir / "airflow.log"
    stack.enter_context(demo_lock(workdir))
    shutil.rmtree(home, ignore_errors=True)
    airflow_log.unlink(missing_ok=True)
    console.step(f"logs        Airflow: {shown(airflow_log)}   "
                 f"simulator: {shown(workdir / 'simulator.log')}")

    sim = stack.enter_context(SimulatorProcess(deals=options.deals, log_path=workdir / "simulator.log",
                                               log_level="INFO", access_log=True))
    console.step(f"simulator   {sim.url}  ({options.deals:,} deals; 120 requests/min, like the real API)")
    admin_url = stack.enter_context(admin_server())
    db_url = stack.enter_context(warehouse(console, admin_url))
    # Airflow's own metadata in PostgreSQL, as in production: on SQLite the API server and the
    # scheduler lock each other out, and the backfill dialog meets "database is locked"
    metadata_url = stack.enter_context(fresh_database(admin_url, "ploomes_demo_airflow"))
    inbox = stack.enter_context(smtp_inbox(console))
    console.step(f"SMTP        127.0.0.1:{inbox.port}  (alert e-mails to {ALERT_RECIPIENTS} land here)")

    env = {
        "AIRFLOW_CONN_PLOOMES_DEFAULT": json.dumps({
            "conn_type": "ploomes", "host": sim.url, "password": sim.api_key,
            "extra": {"requests_per_minute": 120, "page_size": 300}}),
        "AIRFLOW_CONN_SALES_DB": json.dumps(postgres_connection(db_url)),
        "AIRFLOW_CONN_SMTP_DEFAULT": json.dumps({
            "conn_type": "smtp", "host": "127.0.0.1", "port": inbox.port,
            "extra": {"disable_tls": True, "disable_ssl": True, "from_email": "ploomes-sync@demo.local",
                      "retry_limit": 0, "timeout": 10}}),
        "AIRFLOW_VAR_PLOOMES_SYNC_ALERT_EMAILS": ALERT_RECIPIENTS,
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": sqlalchemy_url(metadata_url),
    }
    port = options.port or free_port(DEFAULT_PREFERRED_PORT)
    env["AIRFLOW_CONN_PLOOMES_WEBHOOK"] = json.dumps({  # the simulator delivers to this Airflow
        "conn_type": "http", "host": f"http://127.0.0.1:{port}", "password": secrets.token_urlsafe(24)})
    airflow = AirflowStandalone(home, dags_folder=ROOT / "dags", plugins_folder=ROOT / "plugins", env=env,
                                port=port, log_path=airflow_log)
    fallback = options.port is None and airflow.port != DEFAULT_PREFERRED_PORT
    busy = f"; port {DEFAULT_PREFERRED_PORT} is taken" if fallback else ""
    console.step(f"Airflow     starting on {airflow.url} "
                 f"(AIRFLOW_HOME {shown(home)}; metadata in database {urlsplit(metadata_url).path.lstrip('/')}, "
                 f"LocalExecutor{busy})")
    stack.enter_context(airflow)
    console.step("Airflow     API server, scheduler, dag-processor and triggerer are healthy")

    def alive() -> None:
        airflow.check_alive()
        sim.check_alive()

    client = airflow.client()
    client.set_pool(API_POOL, API_POOL_SLOTS, "Ploomes API: tasks calling it at once")
    client.wait_for_dag(DAG_ID, alive=alive)
    run = client.trigger_dag_run(DAG_ID, note="make demo")
    run_id = run["dag_run_id"]
    client.set_paused(DAG_ID, False)
    console.step(f"DAG         {DAG_ID} parsed; pool {API_POOL} = {API_POOL_SLOTS} slots; "
                 "unpaused (every 6 h, São Paulo)")
    client.wait_for_dag(WATCHDOG_DAG_ID, alive=alive)
    client.set_paused(WATCHDOG_DAG_ID, False)
    console.step(f"watchdog    {WATCHDOG_DAG_ID} unpaused: an e-mail when no run has succeeded for 8 h")
    console.step(f"run         {run_id} triggered through the REST API")
    finished = follow_run(client, run_id, console, timeout=options.timeout, alive=alive)
    succeeded = finished["state"] == "success"
    if not succeeded:
        explain_failure(client, run_id, console)

    shield()  # the report and the shutdown are not interrupted
    history = run_history(db_url, run_id)
    table, matched = year_report(warehouse_by_year(db_url), truth_by_year(sim.admin.truth_deals()))
    console.say()
    console.say(f"Run {run_id}: {finished['state'].upper()}"
                + (f" (run_history: {history['status']}, mode {history['mode']}, "
                   f"{history['api_requests']} API requests)" if history else " (no run_history row)"))
    console.say("Per São Paulo year, the warehouse (public.sales, as a dashboard reads it) against the "
                "simulator's truth (GET /_admin/truth/deals):")
    console.say(runs_report(db_url))
    console.say()
    console.say(table)
    console.say("MATCH: the warehouse equals the simulator's truth for every year." if matched
                else "MISMATCH: the warehouse and the simulator's truth differ (see the table).")
    console.say()
    console.say(price_history_report(db_url))
    console.say()
    console.say(by_name_report(db_url))
    console.say()
    if succeeded:
        webhook_demo(client, sim, db_url, console, alive)
    console.say(f"Airflow UI  {airflow.url}   login: admin / {airflow.password}")
    console.say(f"Health page {airflow.url}/plugin/ploomes-sync-health   (or the DAG's 'Sync health' tab)")
    console.say(f"            (password from {shown(airflow.password_file)})")
    console.say(f"Airflow log {shown(airflow_log)}")
    ok = succeeded and matched
    if options.once:
        console.step("--once: stopping everything")
        return 0 if ok else 1
    console.say("Airflow keeps running (the DAG is unpaused on its schedule). Ctrl-C stops everything.")
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _terminate)
    try:
        watch(client, console, alive, known={run_id})
    finally:
        shield()
    return 0


def webhook_demo(client: AirflowClient, sim: SimulatorProcess, db_url: str, console: Console,
                 alive: Callable[[], None]) -> None:
    """Register the webhooks (the setup DAG), change a deal in the simulator and time its arrival."""
    for dag_id in (WEBHOOK_SETUP_DAG_ID, WEBHOOK_DAG_ID):
        client.wait_for_dag(dag_id, alive=alive)
        client.set_paused(dag_id, False)
    setup = client.trigger_dag_run(WEBHOOK_SETUP_DAG_ID, note="make demo")
    done = client.wait_for_dag_run(WEBHOOK_SETUP_DAG_ID, setup["dag_run_id"], timeout=180, alive=alive)
    if done["state"] != "success":
        console.step(f"webhooks    {WEBHOOK_SETUP_DAG_ID} failed: see its log in the UI")
        return
    console.step(f"webhooks    registered in the simulator by {WEBHOOK_SETUP_DAG_ID}")
    deal = sim.admin.truth_deals()[0]
    title = f"Changed in Ploomes at {datetime.now().strftime('%H:%M:%S')}"
    changed = time.monotonic()
    sim.admin.update_deal(deal["Id"], Title=title)
    deadline = changed + 120
    with psycopg.connect(db_url, autocommit=True) as conn:
        while time.monotonic() < deadline:
            alive()
            row = conn.execute("SELECT title FROM public.sales WHERE id = %s", [deal["Id"]]).fetchone()
            if row and row[0] == title:
                console.step(f"webhooks    deal {deal['Id']} changed in the simulator: in public.sales "
                             f"{time.monotonic() - changed:.1f} s later (run {WEBHOOK_DAG_ID})")
                return
            time.sleep(0.5)
    console.step(f"webhooks    deal {deal['Id']} did not arrive within 2 minutes: see {WEBHOOK_DAG_ID} in the UI")


def watch(client: AirflowClient, console: Console, alive: Callable[[], None], known: set[str]) -> None:
    """Until Ctrl-C: one line for every other run that finishes (alert e-mails print themselves)."""
    reported = set(known)
    while True:
        time.sleep(10)
        alive()
        for run in client.list_dag_runs(DAG_ID, state=["success", "failed"]):
            if run["dag_run_id"] not in reported:
                reported.add(run["dag_run_id"])
                console.step(f"run         {run['run_type']} {run['dag_run_id']}: {run['state']}")


def main(argv: list[str] | None = None) -> int:
    """Run the demo; 0 when it worked (with ``--once``: the run succeeded and the table matched)."""
    options = parse_args(argv)
    console = Console()
    console.say(f"ploomes-sync demo: simulator + PostgreSQL + Airflow on 127.0.0.1 ({options.deals:,} deals)")
    signal.signal(signal.SIGTERM, _terminate)
    try:
        code = run_demo(options, console)
    except KeyboardInterrupt:
        console.step("interrupted; everything the demo started was shut down")
        return 130
    except (DemoError, AirflowError, SimulatorError) as err:
        console.say(f"demo failed: {err}")
        return 1
    console.step("stopped; everything the demo started was shut down")
    return code


if __name__ == "__main__":
    sys.exit(main())

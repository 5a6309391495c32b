"""What the health page shows, read from ``ploomes_sync`` in one short transaction (the webhook
inbox's backlog in one more, right after).

Every fact comes from the warehouse (the run history, the rejects, the archives, the inbox), not
from Airflow's metadata: the page tells what the warehouse holds, whichever Airflow wrote it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

import psycopg

from ploomes_sync import streams
from ploomes_sync.secrets import redact
from ploomes_sync.warehouse.connection import fetchdicts, fetchrow, transaction
from ploomes_sync.warehouse.sqlfiles import load
from ploomes_sync.warehouse.statements import statement

RUNS_SHOWN = 200  # runs read for the tables and charts (30 days of 6-hourly runs is 120)
CHART_DAYS = 30
REJECTS_SHOWN = 20
DELETIONS_SHOWN = 20
STREAM_COUNTS = ("fetched", "inserted", "updated", "deleted", "rejected")


@dataclass(frozen=True)
class HealthReport:
    """The sync's health as the warehouse records it (instants in the warehouse's clock)."""

    now: datetime
    last_success: datetime | None  # the end of the last successful run that read every change
    last_started: datetime | None
    stale_after_seconds: float
    runs: list[dict[str, Any]] = field(default_factory=list)  # newest first, over the last CHART_DAYS days
    year_table: dict[str, Any] | None = None  # {run_id, finished_at, rows: [...]}
    rejects: list[dict[str, Any]] = field(default_factory=list)
    deletions: list[dict[str, Any]] = field(default_factory=list)
    deletions_30d: dict[str, int] = field(default_factory=dict)
    inbox: dict[str, Any] = field(default_factory=dict)

    @property
    def freshness_seconds(self) -> float | None:
        """Seconds since the last successful run ended; None when none ever did."""
        return None if self.last_success is None else (self.now - self.last_success).total_seconds()

    @property
    def webhook_freshness_seconds(self) -> float | None:
        """Seconds since the last webhook event was applied; None when none ever was."""
        applied = self.inbox.get("last_applied")
        return None if applied is None else (self.now - applied).total_seconds()

    @property
    def stale(self) -> bool:
        """Whether no run has succeeded for longer than the bound."""
        fresh = self.freshness_seconds
        return fresh is None or fresh > self.stale_after_seconds

    @property
    def sync_runs(self) -> list[dict[str, Any]]:
        """The scheduled, manual and backfill runs (webhook applies left out)."""
        return [run for run in self.runs if run["run_type"] != "webhook"]

    @property
    def webhook_runs(self) -> list[dict[str, Any]]:
        return [run for run in self.runs if run["run_type"] == "webhook"]

    @property
    def last_run(self) -> dict[str, Any] | None:
        """The latest sync run (finished or not)."""
        runs = self.sync_runs
        return runs[0] if runs else None

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (instants as ISO 8601 strings)."""
        data = asdict(self)
        data.update(freshness_seconds=self.freshness_seconds, webhook_freshness_seconds=self.webhook_freshness_seconds,
                    stale=self.stale)
        return _jsonable(data)


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {key: _jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(item) for item in value]
    if hasattr(value, "as_integer_ratio") and not isinstance(value, int | float):  # Decimal
        return float(value)
    return value


def stream_counts(run: dict[str, Any], stream: str) -> dict[str, int]:
    """A run's counts of ``stream`` (0 where none was recorded)."""
    counts = (run.get("streams") or {}).get(stream) or {}
    return {key: int(counts.get(key) or 0) for key in STREAM_COUNTS}


def read_report(conn: psycopg.Connection, *, stale_after_seconds: float) -> HealthReport:
    """The health report, read in one transaction."""
    from ploomes_sync.warehouse import inbox

    with transaction(conn):
        fresh = fetchdicts(conn, load("health/freshness.sql"))[0]
        runs = fetchdicts(conn, load("health/runs.sql"), {"days": CHART_DAYS, "limit": RUNS_SHOWN,
                                                          "streams": list(streams.registry().names)})
        years = fetchdicts(conn, load("health/year_table.sql"))
        rejects = fetchdicts(conn, load("health/rejects.sql"), {"limit": REJECTS_SHOWN})
        deletions, deleted = [], {}
        for stream in streams.registry():  # every stream's archive, no list of its own
            deletions += fetchdicts(conn, statement("health/deletions.sql", stream),
                                    {"days": CHART_DAYS, "limit": DELETIONS_SHOWN, "table": stream.target})
            deleted[stream.target] = fetchrow(conn, statement("health/deletion_counts.sql", stream),
                                              {"days": CHART_DAYS})[0]
        deletions = sorted(deletions, key=lambda d: d["deleted_at"], reverse=True)[:DELETIONS_SHOWN]
    for run in runs:
        run["duration_seconds"] = float(run["duration_seconds"] or 0)
        run["rows_changed"] = int(run["rows_changed"] or 0)
        if run.get("error"):  # written masked; masked again with the secrets in force now
            run["error"] = redact(run["error"])
    year_table = None
    if years:
        year_table = {"run_id": years[0]["run_id"], "finished_at": years[0]["finished_at"],
                      "rows": years[0]["year_table"]}
    return HealthReport(
        now=fresh["now"], last_success=fresh["last_success"], last_started=fresh["last_started"],
        stale_after_seconds=stale_after_seconds, runs=runs, year_table=year_table, rejects=rejects,
        deletions=deletions, deletions_30d={key: int(value) for key, value in deleted.items()},
        inbox=inbox.backlog(conn),
    )

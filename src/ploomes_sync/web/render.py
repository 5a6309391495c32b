"""The health page's HTML: tables from pandas, charts from plotly (its script served by the plugin,
never a CDN), one Jinja template. Times are shown in São Paulo time, like the business's dates."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

import jinja2
import pandas as pd
import plotly.graph_objects as go

from ploomes_sync.monitoring.report import CHART_DAYS, HealthReport, stream_counts
from ploomes_sync.settings import BUSINESS_TIMEZONE, DAG_ID
from ploomes_sync.streams import registry

TZ = ZoneInfo(BUSINESS_TIMEZONE)
RUNS_LISTED = 20
BAR_WIDTH_MS = 3 * 3600 * 1000  # a bar is three hours wide on the 30-day axis
RUN_TYPE_COLORS = {"scheduled": "#1f77b4", "manual": "#ff7f0e", "backfill": "#2ca02c", "webhook": "#9467bd"}
TABLE_CLASSES = "data"


@cache
def _template() -> jinja2.Template:
    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("ploomes_sync.web", "templates"),
        autoescape=jinja2.select_autoescape(default=True), undefined=jinja2.StrictUndefined)
    return environment.get_template("health.html")


def local_time(value: datetime | None) -> str:
    return "" if value is None else value.astimezone(TZ).strftime("%Y-%m-%d %H:%M:%S")


def ago(seconds: float | None) -> str:
    """``3 h 05 min ago``; ``never`` for None."""
    if seconds is None:
        return "never"
    seconds = max(0, int(seconds))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h ago"
    if hours:
        return f"{hours} h {minutes:02d} min ago"
    if minutes:
        return f"{minutes} min {secs:02d} s ago"
    return f"{secs} s ago"


def duration(seconds: float | None) -> str:
    if seconds is None:
        return ""
    seconds = int(round(seconds))
    minutes, secs = divmod(seconds, 60)
    return f"{minutes} min {secs:02d} s" if minutes else f"{secs} s"


def _table(frame: pd.DataFrame, table_id: str, empty: str) -> str:
    if frame.empty:
        return f'<p class="empty" id="{table_id}">{empty}</p>'
    return frame.to_html(index=False, border=0, classes=TABLE_CLASSES, table_id=table_id, na_rep="",
                         escape=True, justify="left")


def brazilian(value: Any, places: int = 0) -> str:
    """A number as Brazilians write it: ``1.797.227,45`` (``places`` decimals), ``1.361``."""
    if value is None or value == "":
        return ""
    number = Decimal(str(value))
    text = f"{number:,.{places}f}"
    return text.replace(",", "\0").replace(".", ",").replace("\0", ".")


def _changes(run: dict[str, Any]) -> str:
    """What the run did per stream, the streams that did something only: ``deals 30 read, 5 new, ...``."""
    parts = []
    for stream in registry().names:
        counts = stream_counts(run, stream)
        if not any(counts.values()):
            continue
        said = [f"{brazilian(counts[key])} {label}" for key, label in RUN_COUNTS if counts[key]]
        parts.append(f"{stream}: {', '.join(said)}")
    return "; ".join(parts)


RUN_COUNTS = (("fetched", "read"), ("inserted", "new"), ("updated", "updated"), ("deleted", "deleted"),
              ("rejected", "set aside"))


def runs_table(report: HealthReport) -> str:
    rows = [{
        "run id": run["run_id"], "type": run["run_type"], "status": run["status"], "mode": run["mode"],
        "started": local_time(run["started_at"]), "duration": duration(run["duration_seconds"]),
        "records, by stream": _changes(run), "API requests": brazilian(run["api_requests"]),
        "429s": brazilian(run["throttled"]), "error": (run["error"] or "")[:600],
    } for run in report.sync_runs[:RUNS_LISTED]]
    return _table(pd.DataFrame(rows), "runs", "No run recorded yet.")


def _year_label(column: str) -> str:
    """``ploomes_won_revenue`` -> "won revenue in Ploomes", ``deals_diff`` -> "deals difference"."""
    for prefix, side in (("ploomes_", "in Ploomes"), ("warehouse_", "in warehouse")):
        if column.startswith(prefix):
            return f"{column.removeprefix(prefix).replace('_', ' ')} {side}"
    if column.endswith("_diff"):
        return f"{column.removesuffix('_diff').replace('_', ' ')} difference"
    return {"differing": "records that differ"}.get(column, column.replace("_", " "))


def _money_column(column: str) -> bool:
    return "revenue" in column or "amount" in column


def year_table(report: HealthReport) -> str:
    if report.year_table is None or not report.year_table["rows"]:
        return _table(pd.DataFrame(), "years", "No check has compared every deal yet (a full run or the daily "
                                              "full listing does).")
    frame = pd.DataFrame(report.year_table["rows"])
    frame = frame[["year", *(c for c in frame.columns if c not in ("year", "ok")), "ok"]]  # the verdict last
    for column in frame.columns:
        if column not in ("year", "ok"):
            places = 2 if _money_column(column) else 0
            frame[column] = frame[column].map(lambda value, places=places: brazilian(value, places))
    frame = frame.rename(columns={column: _year_label(column) for column in frame.columns})
    frame["ok"] = frame["ok"].map({True: "yes", False: "NO"})
    return _table(frame, "years", "")


def rejects_table(report: HealthReport) -> str:
    frame = pd.DataFrame([{"when": local_time(r["rejected_at"]), "run id": r["run_id"], "stream": r["stream"],
                           "record id": r["record_id"], "reason": r["reason"]} for r in report.rejects])
    return _table(frame, "rejects", "No record has been set aside.")


def deletions_table(report: HealthReport) -> str:
    frame = pd.DataFrame([{"when": local_time(d["deleted_at"]), "table": f"public.{d['table']}", "id": d["id"],
                           "run id": d["run_id"]} for d in report.deletions])
    return _table(frame, "deletions", "No row was archived as gone from Ploomes in the last 30 days.")


def _chart(report: HealthReport, value: str, title: str, div_id: str) -> str:
    """Bars per run over the last CHART_DAYS days (stacked by run type), on a time axis."""
    figure = go.Figure()
    now = report.now.astimezone(TZ)
    runs = list(reversed(report.runs))
    for run_type in sorted({run["run_type"] or "other" for run in runs}):
        chosen = [run for run in runs if (run["run_type"] or "other") == run_type]
        figure.add_trace(go.Bar(
            x=[run["started_at"].astimezone(TZ).isoformat() for run in chosen], y=[run[value] for run in chosen],
            name=run_type, marker_color=RUN_TYPE_COLORS.get(run_type), hovertext=[run["run_id"] for run in chosen],
            width=BAR_WIDTH_MS))
    figure.update_layout(title=title, barmode="stack", height=320, margin={"l": 50, "r": 20, "t": 50, "b": 40},
                         template="plotly_white", xaxis_title="run start (São Paulo)", legend_title="run type",
                         xaxis={"type": "date", "range": [(now - timedelta(days=CHART_DAYS)).isoformat(),
                                                          (now + timedelta(hours=6)).isoformat()]})
    return figure.to_html(full_html=False, include_plotlyjs=False, div_id=div_id,
                          config={"displaylogo": False, "responsive": True})


def render_page(report: HealthReport, *, script_url: str, json_url: str, metrics_url: str) -> str:
    """The whole health page."""
    last = report.last_run
    inbox = report.inbox
    webhooks_on = inbox.get("last_received") is not None
    oldest = inbox.get("oldest_pending")
    webhook_runs = [run for run in report.webhook_runs if (report.now - run["started_at"]).total_seconds() <= 86400]
    return _template().render(
        dag_id=DAG_ID, now=local_time(report.now), timezone=BUSINESS_TIMEZONE, stale=report.stale,
        stale_after=f"{report.stale_after_seconds / 3600:g} h",
        freshness=ago(report.freshness_seconds), last_success=local_time(report.last_success),
        last_run=last, last_run_started=local_time(last["started_at"]) if last else "",
        webhooks_on=webhooks_on, webhook_freshness=ago(report.webhook_freshness_seconds),
        backlog=int(inbox.get("pending") or 0),
        oldest_pending=ago((report.now - oldest).total_seconds()) if oldest else "",
        received_24h=int(inbox.get("received_24h") or 0), webhook_runs_24h=len(webhook_runs),
        deletions_30d=report.deletions_30d,
        runs_table=runs_table(report), year_table=year_table(report),
        year_run=report.year_table["run_id"] if report.year_table else None,
        year_finished=local_time(report.year_table["finished_at"]) if report.year_table else "",
        rejects_table=rejects_table(report), deletions_table=deletions_table(report),
        requests_chart=_chart(report, "api_requests", "API requests per run, last 30 days", "chart-requests"),
        rows_chart=_chart(report, "rows_changed", "Rows changed per run (inserted + updated + deleted), last 30 days",
                          "chart-rows"),
        script_url=script_url, json_url=json_url, metrics_url=metrics_url,
    )


def render_unreadable(cause: str, checks: list[str]) -> str:
    """The page that says the warehouse could not be read, why, and what to check."""
    template = _template().environment.get_template("unavailable.html")
    return template.render(now=local_time(datetime.now(TZ)), timezone=BUSINESS_TIMEZONE, cause=cause, checks=checks)


def render_not_a_sync(dag_id: str, sync_dags: tuple[str, ...]) -> str:
    """The one line the DAG tab shows on a DAG that is not the sync's."""
    template = _template().environment.get_template("not_a_sync.html")
    return template.render(dag_id=dag_id, sync_dags=", ".join(sync_dags))

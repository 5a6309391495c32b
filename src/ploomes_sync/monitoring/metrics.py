"""The health report as Prometheus text (``GET /ploomes-sync/metrics``).

Every value is read from the warehouse when scraped; nothing is kept in the API server's memory,
so every API server worker answers the same. An unknown value (no run yet, no webhook event) is
left out rather than reported as 0.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Gauge, generate_latest

from ploomes_sync import streams
from ploomes_sync.monitoring.report import STREAM_COUNTS, HealthReport, stream_counts

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
STATUSES = ("success", "failed", "running")
WAREHOUSE_UP = "1 when the warehouse could be read for this scrape, 0 when not (the other series are then absent)"


def render(report: HealthReport) -> bytes:
    """The report in the Prometheus text format."""
    registry = CollectorRegistry(auto_describe=True)

    def gauge(name: str, doc: str, labels: tuple[str, ...] = ()) -> Gauge:
        return Gauge(f"ploomes_sync_{name}", doc, labels, registry=registry)

    gauge("warehouse_up", WAREHOUSE_UP).set(1)
    if report.freshness_seconds is not None:
        gauge("freshness_seconds", "Seconds since the last successful sync run ended").set(report.freshness_seconds)
    gauge("stale", "1 when no sync run has succeeded within the stale-data bound").set(int(report.stale))
    gauge("stale_after_seconds", "The stale-data bound in seconds").set(report.stale_after_seconds)
    if report.webhook_freshness_seconds is not None:
        gauge("webhook_freshness_seconds", "Seconds since a webhook event was last applied").set(
            report.webhook_freshness_seconds)
    backlog = report.inbox
    gauge("inbox_backlog", "Webhook events received and not yet applied").set(int(backlog.get("pending") or 0))
    oldest = backlog.get("oldest_pending")
    gauge("inbox_oldest_pending_seconds", "Age of the oldest pending webhook event (0: none pending)").set(
        (report.now - oldest).total_seconds() if oldest else 0)

    run = report.last_run
    if run is not None:
        status = gauge("last_run_status", "The latest sync run's status (1 for the status it has)", ("status",))
        for name in sorted({*STATUSES, run["status"]}):
            status.labels(name).set(int(run["status"] == name))
        gauge("last_run_success", "1 when the latest finished sync run succeeded").set(
            int(_last_finished_status(report) == "success"))
        gauge("last_run_started_timestamp_seconds", "When the latest sync run started (Unix time)").set(
            run["started_at"].timestamp())
        gauge("last_run_duration_seconds", "How long the latest sync run took (so far, when running)").set(
            run["duration_seconds"])
        rows = gauge("last_run_rows", "Records of the latest sync run, by stream and what happened to them",
                     ("stream", "kind"))
        for stream in streams.registry().names:
            counts = stream_counts(run, stream)
            for kind in STREAM_COUNTS:
                rows.labels(stream, kind).set(counts[kind])
        rejects = gauge("last_run_rejects", "Records the latest sync run set aside, by stream", ("stream",))
        for stream in streams.registry().names:
            rejects.labels(stream).set(stream_counts(run, stream)["rejected"])
        gauge("last_run_api_requests", "API requests the latest sync run made").set(run["api_requests"])
        gauge("last_run_throttled", "Requests of the latest sync run answered 429").set(run["throttled"])
    day = [r for r in report.runs if (report.now - r["started_at"]).total_seconds() <= 86400]
    gauge("api_requests_24h", "API requests made by every run (webhook applies included) in the last 24 hours").set(
        sum(int(r["api_requests"] or 0) for r in day))
    return generate_latest(registry)


def render_unreadable() -> bytes:
    """What the metrics say when the warehouse cannot be read: that, and nothing else."""
    registry = CollectorRegistry(auto_describe=True)
    Gauge("ploomes_sync_warehouse_up", WAREHOUSE_UP, registry=registry).set(0)
    return generate_latest(registry)


def _last_finished_status(report: HealthReport) -> str | None:
    for run in report.sync_runs:
        if run["status"] != "running":
            return run["status"]
    return None

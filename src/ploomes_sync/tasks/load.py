"""The loads: staged rows into ``public`` (one short transaction per table), and ``customer_sales``."""

from __future__ import annotations

import logging
from typing import Any

import psycopg
from airflow.sdk.exceptions import AirflowSkipException

from ploomes_sync import warehouse
from ploomes_sync.plan import RunPlan
from ploomes_sync.streams import Stream

log = logging.getLogger(__name__)


def load(stream: Stream, plan: RunPlan, *, conn: psycopg.Connection) -> dict[str, int]:
    """Merge the run's staged rows of ``stream`` (and their lines); its watermark (not for a date
    range) and the ``customer_sales`` rows it touches move with them."""
    if stream.name not in plan.streams:
        raise AirflowSkipException(f"{stream.name} is not synced (streams in the ploomes_sync_config Variable).")
    result = warehouse.merge(conn, stream, plan.run_id, move_watermark=plan.stream(stream.name).moves_watermark)
    counts = {"inserted": result.inserted, "updated": result.updated, "unchanged": result.unchanged}
    if stream.lines is not None:
        counts.update(lines_written=result.lines_written, lines_removed=result.lines_removed)
    warehouse.record_stream(conn, plan.run_id, stream.name, **counts)
    log.info("%s: %s; %s customer_sales rows recomputed", stream.target, counts, result.customers)
    return counts


def aggregate_customer_sales(plan: RunPlan, *, conn: psycopg.Connection) -> dict[str, Any]:
    """Recompute every row of ``public.customer_sales`` from the tables as they are now.

    The loads and the reconcile already keep the rows they touch up to date in their own
    transactions; this recomputes all of them from state, so a run ends consistent whatever was
    retried or cleared.
    """
    result = warehouse.aggregate_customer_sales(conn)
    counts = {"rows": result.rows, "inserted": result.inserted, "updated": result.updated, "deleted": result.deleted}
    warehouse.record_stream(conn, plan.run_id, "customer_sales", **counts)
    log.info("customer_sales: %s", counts)
    return counts

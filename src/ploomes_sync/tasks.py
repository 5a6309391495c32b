"""The work of each DAG task, as plain functions of a Ploomes hook and a warehouse connection.

The DAG's tasks resolve connections and call these; tests and the benchmark call them too, so
what is tested and measured is what runs. Nothing here reads Airflow's context.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import psycopg
from airflow.providers.common.compat.sdk import AirflowFailException

from ploomes_sync import records, warehouse
from ploomes_sync.config import SyncConfig
from ploomes_sync.hooks.ploomes import PloomesHook
from ploomes_sync.plan import RunPlan, contacts_filter, deals_filter, listing_filter, make_plan

log = logging.getLogger(__name__)

RowFn = Callable[[Mapping[str, Any]], "tuple | records.Reject"]


class TooManyRejects(AirflowFailException):
    """More records were rejected than the configured threshold allows (a retry would not help)."""


class ValidationMismatch(AirflowFailException):
    """The warehouse disagrees with Ploomes for at least one year (fails the task with no retry)."""

    def __init__(self, table: warehouse.YearTable) -> None:
        self.table = table
        years = ", ".join(str(row["year"]) for row in table.mismatches)
        super().__init__(
            f"The warehouse disagrees with Ploomes for {years}:\n{table.format()}\n"
            "Rerun the DAG with full_refresh=true (or a from_date/to_date range over those years); "
            "if the difference stays, look at ploomes_sync.rejects for records set aside."
        )


@dataclass(frozen=True)
class Stream:
    """One list endpoint extracted into one staging table."""

    name: str
    endpoint: str
    select: tuple[str, ...]
    expand: str | None = None


DEALS = Stream("deals", "Deals", records.DEAL_FIELDS)
CONTACTS = Stream("contacts", "Contacts", records.CONTACT_FIELDS, expand="Tags")
DEAL_LISTING = Stream("deal_listing", "Deals", records.DEAL_LISTING_FIELDS)


def migrate_schema(conn: psycopg.Connection) -> list[str]:
    """Apply pending migrations; return the ones applied."""
    applied = warehouse.migrate(conn)
    log.info("Migrations applied: %s", applied or "none pending")
    return applied


def check_api_key(hook: PloomesHook) -> None:
    """One cheap request that fails with :class:`PloomesAuthError` (no retry) when the key is refused.

    The DAG runs it once, before both extracts, so a bad key fails one task and sends one e-mail.
    """
    hook.preflight()


def plan_run(
    conn: psycopg.Connection,
    *,
    dag_id: str,
    run_key: str,
    run_type: str,
    run_started_at: datetime,
    params: dict[str, Any],
    data_interval: tuple[datetime | None, datetime | None],
    config: SyncConfig,
) -> RunPlan:
    """Decide the run's windows and open its row in the run history."""
    watermarks = warehouse.get_watermarks(conn)
    plan = make_plan(
        run_key=run_key,
        run_type=run_type,
        run_started_at=run_started_at,
        params=params,
        data_interval=data_interval,
        watermarks=watermarks,
        lookback=config.lookback,
        safety_lag=config.safety_lag,
    )
    warehouse.start_run(
        conn,
        run_key,
        dag_id=dag_id,
        run_type=run_type,
        mode=plan.mode,
        window_start=plan.created_from if plan.mode == "range" else plan.deals_from,
        window_end=plan.created_to if plan.mode == "range" else plan.cutoff,
        watermarks_before=watermarks,
    )
    warehouse.purge_stale_stage(conn, older_than=config.stale_stage_days)
    log.info("Run %s: mode %s, plan %s", run_key, plan.mode, plan.to_xcom())
    return plan


def _extract(
    stream: Stream,
    row_fn: RowFn,
    *,
    filter_: str | None,
    plan: RunPlan,
    hook: PloomesHook,
    conn: psycopg.Connection,
    reject_conn: psycopg.Connection,
) -> dict[str, int]:
    """Stream one endpoint's pages into staging; bad records go to the rejects table."""
    warehouse.clear_stage(conn, plan.run_key, stream.name)
    warehouse.clear_rejects(reject_conn, plan.run_key, stream.name)
    counts = {"fetched": 0, "rejected": 0}
    requests_before, throttled_before = hook.stats.requests, hook.stats.throttled

    def rows() -> Iterator[tuple]:
        pages = hook.iter_pages(stream.endpoint, filter=filter_, select=list(stream.select), expand=stream.expand)
        for page in pages:
            rejected: list[records.Reject] = []
            for record in page.records:
                row = row_fn(record)
                if type(row) is tuple:
                    yield row
                else:
                    rejected.append(row)
            counts["fetched"] += len(page.records)
            if rejected:
                counts["rejected"] += len(rejected)
                warehouse.stage_rejects(reject_conn, plan.run_key, stream.name, rejected)
                log.warning("%s: %s records of page %s set aside: %s", stream.name, len(rejected),
                            page.number, rejected[0].reason)

    counts["staged"] = warehouse.stage_rows(conn, stream.name, plan.run_key, rows())
    requests = hook.stats.requests - requests_before
    throttled = hook.stats.throttled - throttled_before
    warehouse.add_api_usage(conn, plan.run_key, requests, throttled)
    counts["api_requests"] = requests
    log.info("%s: fetched %s, staged %s, rejected %s, %s API requests (%s answered 429)",
             stream.name, counts["fetched"], counts["staged"], counts["rejected"], requests, throttled)
    return counts


def _check_rejects(stream: Stream, counts: dict[str, int], plan: RunPlan, config: SyncConfig) -> None:
    if config.too_many_rejects(counts["rejected"], counts["fetched"]):
        # The message shows the user a query to run; it is never executed (hence the noqa).
        raise TooManyRejects(
            f"{counts['rejected']} of {counts['fetched']} {stream.name} records were rejected, above the "  # noqa: S608
            f"threshold (more than {config.reject_allowance} and {config.max_reject_ratio:.1%}). Nothing was "
            f"loaded and the watermark did not move. See: SELECT record_id, reason FROM "
            f"ploomes_sync.rejects WHERE run_key = '{plan.run_key}' AND stream = '{stream.name}'; "
            "fix the records in Ploomes, or raise max_reject_ratio / reject_allowance in the "
            "ploomes_sync_config Variable."
        )


def extract_deals(
    plan: RunPlan, *, hook: PloomesHook, conn: psycopg.Connection, reject_conn: psycopg.Connection,
    config: SyncConfig,
) -> dict[str, int]:
    """Stage the deals of the run's window."""
    counts = _extract(DEALS, records.deal_row, filter_=deals_filter(plan), plan=plan, hook=hook, conn=conn,
                      reject_conn=reject_conn)
    warehouse.record_stream(conn, plan.run_key, "deals", fetched=counts["fetched"], rejected=counts["rejected"])
    _check_rejects(DEALS, counts, plan, config)
    return counts


def extract_contacts(
    plan: RunPlan, *, hook: PloomesHook, conn: psycopg.Connection, reject_conn: psycopg.Connection,
    config: SyncConfig,
) -> dict[str, int]:
    """Stage the contacts of the run's window."""

    def to_row(record: Mapping[str, Any]) -> tuple | records.Reject:
        return records.contact_row(record, config.client_tag_id)

    counts = _extract(CONTACTS, to_row, filter_=contacts_filter(plan), plan=plan, hook=hook, conn=conn,
                      reject_conn=reject_conn)
    warehouse.record_stream(conn, plan.run_key, "contacts", fetched=counts["fetched"],
                            rejected=counts["rejected"])
    _check_rejects(CONTACTS, counts, plan, config)
    return counts


def load_sales(plan: RunPlan, *, conn: psycopg.Connection) -> dict[str, int]:
    """Merge staged deals into public.sales; the deals watermark moves in the same transaction."""
    # The extract began after the cutoff: a deal found deleted since then is not put back.
    result = warehouse.merge_sales(conn, plan.run_key, read_after=plan.cutoff,
                                   watermark=plan.cutoff if plan.moves_deals_watermark else None)
    counts = {"inserted": result.inserted, "updated": result.updated, "unchanged": result.unchanged}
    warehouse.record_stream(conn, plan.run_key, "deals", **counts)
    log.info("sales: %s", counts)
    return counts


def load_customers(plan: RunPlan, *, conn: psycopg.Connection) -> dict[str, int]:
    """Merge staged contacts into public.customers; the contacts watermark moves with them."""
    result = warehouse.merge_customers(conn, plan.run_key, watermark=plan.cutoff)
    counts = {"inserted": result.inserted, "updated": result.updated, "unchanged": result.unchanged}
    warehouse.record_stream(conn, plan.run_key, "contacts", **counts)
    log.info("customers: %s", counts)
    return counts


def aggregate_customer_sales(plan: RunPlan, *, conn: psycopg.Connection) -> dict[str, int]:
    """Recompute public.customer_sales."""
    result = warehouse.aggregate_customer_sales(conn)
    counts = {"rows": result.rows, "inserted": result.inserted, "updated": result.updated,
              "deleted": result.deleted}
    warehouse.record_stream(conn, plan.run_key, "customer_sales", **counts)
    log.info("customer_sales: %s", counts)
    return counts


def _full_check_due(plan: RunPlan, conn: psycopg.Connection, config: SyncConfig) -> bool:
    if plan.mode != "incremental" or config.full_check_every_hours <= 0:
        return True
    last = warehouse.last_full_check(conn)
    if last is None or plan.cutoff - last >= timedelta(hours=config.full_check_every_hours):
        return True
    log.info("Whole-account check skipped: the last one ended at %s and full_check_every_hours is %s, "
             "so deletions in Ploomes are archived and the per-year table compared at the next check "
             "after %s.", last.isoformat(), config.full_check_every_hours,
             (last + timedelta(hours=config.full_check_every_hours)).isoformat())
    return False


def _extract_covers_listing(plan: RunPlan, conn: psycopg.Connection) -> bool:
    """Whether the run's deals extract read every deal of its scope and set none aside.

    Full runs read every deal, range runs every deal created in the range. A rejected deal is
    missing from the staging but not from Ploomes, so then the listing asks the API.
    """
    if plan.mode not in ("full", "range"):
        return False
    streams = warehouse.get_run(conn, plan.run_key).get("streams") or {}
    return int((streams.get("deals") or {}).get("rejected", 0)) == 0


def validate_by_year(
    plan: RunPlan, *, hook: PloomesHook, conn: psycopg.Connection, reject_conn: psycopg.Connection,
    config: SyncConfig | None = None,
) -> warehouse.YearTable | None:
    """Reconcile deletions and compare deals and won revenue per São Paulo year with Ploomes.

    Raises :class:`ValidationMismatch` (after recording the table) when a year disagrees. Returns
    None, with no API request, for an incremental run between whole-account checks when
    ``full_check_every_hours`` is set.
    """
    if not _full_check_due(plan, conn, config or SyncConfig()):
        warehouse.finish_run(conn, plan.run_key, status="success", watermarks_after=warehouse.get_watermarks(conn))
        warehouse.drop_stage(conn, plan.run_key)
        return None
    if _extract_covers_listing(plan, conn):
        # Rows synced after the cutoff are not judged by the reconcile: the extract began after it.
        listing_started_at = plan.cutoff
        counts = {"fetched": warehouse.stage_listing_from_deals(conn, plan.run_key), "rejected": 0}
        log.info("The deals extract read every deal of the run's scope: it is the listing (no API request).")
    else:
        listing_started_at = conn.execute("SELECT clock_timestamp()").fetchone()[0]
        conn.commit()
        counts = _extract(DEAL_LISTING, records.deal_listing_row, filter_=listing_filter(plan), plan=plan,
                          hook=hook, conn=conn, reject_conn=reject_conn)
    deleted = warehouse.reconcile_deleted_sales(
        conn, plan.run_key, listing_started_at=listing_started_at,
        created_from=plan.created_from, created_to=plan.created_to,
    )
    warehouse.record_stream(conn, plan.run_key, "deals", deleted=deleted)
    warehouse.record_stream(conn, plan.run_key, "deal_listing", fetched=counts["fetched"],
                            rejected=counts["rejected"])
    if deleted:
        # aggregate_customer_sales ran before these deals left public.sales: bring it up to date.
        aggregate_customer_sales(plan, conn=conn)
    table = warehouse.compare_by_year(conn, plan.run_key, cutoff=plan.cutoff,
                                      created_from=plan.created_from, created_to=plan.created_to)
    log.info("Listed %s deals; archived %s deleted deals. Per-year comparison:\n%s",
             counts["fetched"], deleted, table.format())
    ok = not table.mismatches
    warehouse.finish_run(
        conn, plan.run_key, status="success" if ok else "failed", year_table=table,
        error=None if ok else "validate_by_year: mismatch", watermarks_after=warehouse.get_watermarks(conn),
    )
    warehouse.drop_stage(conn, plan.run_key)
    if not ok:
        raise ValidationMismatch(table)
    return table

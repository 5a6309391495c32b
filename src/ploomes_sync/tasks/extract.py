"""The extracts: a stream's records of the run's window, read from Ploomes into its staging."""

from __future__ import annotations

import logging
from typing import Any

import psycopg
from airflow.sdk.exceptions import AirflowSkipException

from ploomes_sync import warehouse
from ploomes_sync.config import SyncConfig
from ploomes_sync.guards import check_rejects
from ploomes_sync.hooks.ploomes import PloomesHook
from ploomes_sync.plan import RunPlan, stream_filter
from ploomes_sync.reads import account_context, read_into_stage
from ploomes_sync.streams import Stream

log = logging.getLogger(__name__)

def extract(stream: Stream, plan: RunPlan, *, hook: PloomesHook, conn: psycopg.Connection,
            reject_conn: psycopg.Connection, config: SyncConfig) -> dict[str, Any]:
    """Stage ``stream``'s records of the run's window; register the staging; check the rejects.

    When the extract is the stream's listing (full and date-range runs), it is recorded as such.
    """
    if stream.name not in plan.streams:
        raise AirflowSkipException(f"{stream.name} is not synced: the streams key of the ploomes_sync_config Variable "
                                   "leaves it out (its tables are left as they are).")
    own = plan.stream(stream.name)
    warehouse.clear_stage(conn, stream, plan.run_id)
    started_wh = warehouse.warehouse_now(conn)
    listing = own.listing == "extract"
    counts = read_into_stage(stream, plan.run_id, hook=hook, conn=conn, reject_conn=reject_conn,
                             filter_=stream_filter(plan, stream), fallback_started_at=own.since,
                             context=account_context(conn, hook, config.client_tag_id))
    # never trust one answer: a read that got nothing, or fewer records than Ploomes counted for it,
    # leaves the watermark where it was, so the next run reads the same window again
    complete = counts["fetched"] > 0 and (counts["announced"] is None or counts["fetched"] >= counts["announced"])
    warehouse.register_stage(conn, stream.name, plan.run_id, counts["staged"],
                             read_started_at=counts["read_started_at"], read_started_wh=started_wh,
                             read_ended_at=counts["read_ended_at"], complete=complete)
    warehouse.add_api_usage(conn, plan.run_id, counts["api_requests"], counts["throttled"])
    warehouse.record_stream(conn, plan.run_id, stream.name, fetched=counts["fetched"], pages=counts["pages"],
                            rejected=counts["rejected"])
    if listing:
        created = (plan.created_from, plan.created_to) if own.created_range else (None, None)
        warehouse.record_listing_ranges(conn, warehouse.Listing(
            run_id=plan.run_id, stream=stream.name, source="extract", method="extract", started_wh=started_wh,
            read_started_at=counts["read_started_at"], created_from=created[0], created_to=created[1],
            requests=counts["api_requests"], listed=counts["staged"], rejected=counts["rejected"],
            rejected_without_id=counts["rejected_without_id"], read_ended_at=counts["read_ended_at"],
        ), [warehouse.IdRange(None, None, listed=True)])
    log.info("%s: fetched %s, staged %s, rejected %s; %s API requests (%s answered 429); read began at %s "
             "(Ploomes' clock)%s", stream.name, counts["fetched"], counts["staged"], counts["rejected"],
             counts["api_requests"], counts["throttled"], counts["read_started_at"],
             "; it is this run's listing" if listing else "")
    check_rejects(stream.name, counts, plan.run_id, config)
    return {key: value for key, value in counts.items() if key not in ("read_started_at", "read_ended_at")}

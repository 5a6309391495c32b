"""The reconcile: the warehouse made equal to Ploomes where this run's listings (and earlier checks) doubt it.

No answer is trusted alone. For each stream:

1. the rows the listing judged and did not find (candidates to delete), the records it found that
   the warehouse lacks or holds in another version, and the records earlier runs left in doubt
   (``ploomes_sync.suspects``) are read again by Id: a second, independent request;
2. what that read finds is merged (the warehouse heals: a record missing, or in an older version,
   is brought in as Ploomes has it now);
3. only the candidates it did not find either are archived and removed, under the mass-deletion
   guard. An answer that lists nothing of a table the warehouse holds rows of is a mass deletion
   whatever the table's size. When the candidates alone are past the guard, one request reads a
   sample of them first: if Ploomes shows any, the listing left out records it still has and is
   set aside (the next run lists again); if it shows none, the deletion is refused (the run fails,
   naming the rows held back) until a run confirms it.
"""

from __future__ import annotations

import logging
from typing import Any

import psycopg
from airflow.sdk.exceptions import AirflowSkipException

from ploomes_sync import warehouse
from ploomes_sync.config import SyncConfig
from ploomes_sync.errors import MassDeletionRefused
from ploomes_sync.guards import DeletionGuard, deletion_guard
from ploomes_sync.hooks.ploomes import PloomesHook
from ploomes_sync.plan import RunPlan
from ploomes_sync.reads import IDS_PER_REQUEST, ByIds, account_context, read_ids
from ploomes_sync.streams import DEFAULT_CONTEXT, ReadContext, Registry, Stream, registry
from ploomes_sync.warehouse import suspects
from ploomes_sync.warehouse.listing import Listing, confirm_id
from ploomes_sync.warehouse.reconcile import Candidates

log = logging.getLogger(__name__)


def reconcile_deletions(plan: RunPlan, *, hook: PloomesHook, conn: psycopg.Connection,
                        reject_conn: psycopg.Connection, config: SyncConfig,
                        streams: Registry | None = None) -> dict[str, Any]:
    """Reconcile, stream by stream, what this run's listings and earlier checks put in doubt (see the
    module's docstring). Skipped (``AirflowSkipException``) when nothing is in doubt.

    A mass deletion fails the task with :class:`MassDeletionRefused` (nothing is removed) unless
    the run was triggered with ``confirm_mass_deletion``; the other streams are reconciled first.
    """
    streams = streams or registry(config.quote_entity_id)
    work = [(stream, warehouse.get_listing(conn, plan.run_id, stream.name), suspects.of(conn, stream.name))
            for stream in streams if stream.name in plan.streams]
    work = [(stream, listing, doubted) for stream, listing, doubted in work if listing is not None or doubted]
    if not work:
        raise AirflowSkipException("No listing this run (listing_every_hours) and no record in doubt: deletions "
                                   "wait for the next listing.")
    done: dict[str, Any] = {}
    refusals: list[MassDeletionRefused] = []
    context = account_context(conn, hook, config.client_tag_id)
    for stream, listing, doubted in work:
        try:
            done[stream.name] = reconcile_stream(stream, listing, doubted, plan, hook=hook, conn=conn,
                                                 reject_conn=reject_conn, config=config, context=context)
        except MassDeletionRefused as refusal:
            refusals.append(refusal)
            done[stream.name] = {"refused": str(refusal)}
            warehouse.record_stream(conn, plan.run_id, stream.name, held_back=list(refusal.held))
    if refusals:
        raise refusals[0]
    return done


def reconcile_stream(stream: Stream, listing: Listing | None, doubted: list[int], plan: RunPlan, *,
                     hook: PloomesHook, conn: psycopg.Connection, reject_conn: psycopg.Connection,
                     config: SyncConfig, context: ReadContext = DEFAULT_CONTEXT) -> dict[str, Any]:
    """Steps 1 to 3 of the module's docstring for one stream; what they did."""
    found = warehouse.candidates(conn, stream, listing) if listing else Candidates(0, 0, ())
    differ = warehouse.differing(conn, stream, listing) if listing else []
    guard = deletion_guard(stream, config, confirmed=plan.confirm_mass_deletion)
    requests_before = hook.stats.requests
    outcome: dict[str, Any] = {"scope": found.scope, "judged": found.judged, "candidates": len(found.gone),
                               "differing": len(differ), "doubted": len(doubted)}
    gone = list(found.gone) if not found.refused else []
    if gone and not plan.confirm_mass_deletion and guard.refuses(found.scope, len(gone)):
        gone = _sampled(stream, listing, found, plan, guard, hook=hook, conn=conn, reject_conn=reject_conn,
                        context=context)
        if not gone:
            outcome["set_aside"] = "a read by Id found records the listing left out: the listing was set aside"
            differ = []
    cap = suspects.MAX_SUSPECTS_READ
    wanted = sorted(set(differ) | set(doubted))
    later = {record_id: "differs from the run's listing; more than a run reads again" for record_id in wanted[cap:]}
    suspects.add(conn, stream.name, later, plan.run_id)
    read = _read(stream, set(gone) | set(wanted[:cap]), plan, hook=hook, conn=conn, reject_conn=reject_conn,
                 context=context)
    merged = warehouse.merge(conn, stream, confirm_id(plan.run_id), move_watermark=False)
    confirmed = set(gone) & read.absent
    result = None
    if listing is not None and (confirmed or found.refused):
        result = warehouse.archive(conn, stream, listing, confirmed, guard)  # may raise MassDeletionRefused
    suspects.clear(conn, stream.name, read.present | confirmed | (set(doubted) - warehouse.held(conn, stream, doubted)))
    requests = hook.stats.requests - requests_before
    warehouse.add_api_usage(conn, plan.run_id, requests, 0)
    outcome.update(read_again=len(read.asked), found=len(read.present), repaired=merged.inserted + merged.updated,
                   deleted=result.archived if result else 0, refused=result.refused if result else None,
                   requests=requests)
    warehouse.record_stream(conn, plan.run_id, stream.name, deleted=outcome["deleted"], repaired=outcome["repaired"])
    log.info("%s: %s candidates to delete, %s records differing from the listing, %s in doubt from earlier runs: "
             "%s read again by Id (%s requests), %s found, %s repaired, %s confirmed gone and deleted%s",
             stream.name, len(found.gone), len(differ), len(doubted), len(read.asked), requests, len(read.present),
             outcome["repaired"], outcome["deleted"], f" (nothing deleted: {outcome['refused']})"
             if outcome["refused"] else "")
    return outcome


def _read(stream: Stream, ids: set[int], plan: RunPlan, *, hook: PloomesHook, conn: psycopg.Connection,
          reject_conn: psycopg.Connection, context: ReadContext) -> ByIds:
    return read_ids(stream, ids, confirm_id(plan.run_id), hook=hook, conn=conn, reject_conn=reject_conn,
                    started_wh=warehouse.warehouse_now(conn), context=context)


def _sampled(stream: Stream, listing: Listing | None, found: Candidates, plan: RunPlan, guard: DeletionGuard, *,
             hook: PloomesHook, conn: psycopg.Connection, reject_conn: psycopg.Connection,
             context: ReadContext) -> list[int]:
    """Candidates past the guard: one request reads a sample of them. Any found, the listing is set
    aside (nothing is deleted, its record is dropped so the check does not judge by it, and the next
    run lists again); none found, the deletion is refused, naming the rows held back."""
    step = max(1, len(found.gone) // IDS_PER_REQUEST)
    sample = set(found.gone[::step][:IDS_PER_REQUEST])
    read = _read(stream, sample, plan, hook=hook, conn=conn, reject_conn=reject_conn, context=context)
    if read.present:
        log.warning("%s: the listing left out %s of the %s records a read by Id sampled among the %s it did not "
                    "find: Ploomes still has them, so the listing is set aside (nothing is deleted; the next run "
                    "lists again).", stream.name, len(read.present), len(sample), len(found.gone))
        assert listing is not None
        warehouse.clear_listing(conn, listing.run_id, listing.stream)
        return []
    raise MassDeletionRefused(stream.name, stream.target, len(found.gone), found.scope, found.judged,
                              guard.limits, held=found.gone)

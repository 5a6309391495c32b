"""The work of each DAG task, as plain functions of a Ploomes hook and warehouse connections.

The DAGs' tasks resolve connections and call these; tests and the benchmark call them too, so what
is tested and measured is what runs. Nothing here reads Airflow's context.

    run        migrate_schema, plan_run, check_ploomes_key, finish_run, account_budget
    extract    extract: one stream of the registry (and read_into_stage, which the listing uses)
    load       load: one stream; aggregate_customer_sales
    listing    list_deletions: which records Ploomes still has (full, or by $count)
    reconcile  reconcile_deletions: what the listings doubt, read again by Id: repaired, or archived as gone
    check      validate_by_year: the warehouse against what the run listed
"""

from ploomes_sync.errors import MassDeletionRefused, TooManyRejects, ValidationMismatch
from ploomes_sync.tasks.extract import extract
from ploomes_sync.tasks.listing import list_deletions, needs_listing
from ploomes_sync.tasks.load import aggregate_customer_sales, load
from ploomes_sync.tasks.reconcile import reconcile_deletions
from ploomes_sync.tasks.run import account_budget, check_ploomes_key, finish_run, migrate_schema, plan_run
from ploomes_sync.tasks.validate import validate_by_year

__all__ = [
    "MassDeletionRefused",
    "TooManyRejects",
    "ValidationMismatch",
    "aggregate_customer_sales",
    "check_ploomes_key",
    "extract",
    "finish_run",
    "list_deletions",
    "load",
    "migrate_schema",
    "needs_listing",
    "plan_run",
    "reconcile_deletions",
    "account_budget",
    "validate_by_year",
]

"""Everything that talks to the target PostgreSQL: migrations, staging, merges, listings, the
reconcile, aggregates, the check, the run history and the shared API budget.

Every function takes an open, idle psycopg 3 connection (autocommit on or off), runs its own
transaction(s) and leaves the connection idle. SQL lives in ``include/sql``; templates there are
filled from the stream specs (:mod:`ploomes_sync.warehouse.statements`).
"""

from ploomes_sync.warehouse.aggregate import AggregateResult, aggregate_customer_sales, refresh_customer_sales
from ploomes_sync.warehouse.budget import WarehouseBudget
from ploomes_sync.warehouse.context import read_context
from ploomes_sync.warehouse.errors import (
    ConnectionNotIdle,
    MigrationError,
    SqlFileMissing,
    StageMissing,
    WarehouseError,
)
from ploomes_sync.warehouse.history import (
    add_api_usage,
    finish_run,
    get_run,
    get_watermarks,
    record_listing,
    record_stream,
    record_validation,
    start_run,
    warehouse_now,
)
from ploomes_sync.warehouse.listing import (
    IdRange,
    Listing,
    clear_listing,
    get_listing,
    id_at,
    last_listing,
    listing_ranges,
    max_id,
    warehouse_count,
)
from ploomes_sync.warehouse.listing import (
    record_listing as record_listing_ranges,
)
from ploomes_sync.warehouse.merge import MergeResult, merge
from ploomes_sync.warehouse.migrate import migrate
from ploomes_sync.warehouse.reconcile import Candidates, Reconciled, archive, candidates, differing, held
from ploomes_sync.warehouse.staging import (
    Staged,
    clear_stage,
    drop_stage,
    purge_stale_stage,
    register_stage,
    rejected_ids,
    stage_lines,
    stage_rejects,
    stage_rows,
    staged,
    staged_ids,
)
from ploomes_sync.warehouse.validate import Validation, combine_years, validate, year_json

__all__ = [
    "AggregateResult",
    "Candidates",
    "Validation",
    "ConnectionNotIdle",
    "IdRange",
    "Listing",
    "MergeResult",
    "MigrationError",
    "Reconciled",
    "SqlFileMissing",
    "StageMissing",
    "Staged",
    "WarehouseBudget",
    "WarehouseError",
    "add_api_usage",
    "aggregate_customer_sales",
    "combine_years",
    "validate",
    "year_json",
    "clear_listing",
    "clear_stage",
    "drop_stage",
    "finish_run",
    "get_listing",
    "get_run",
    "get_watermarks",
    "last_listing",
    "listing_ranges",
    "max_id",
    "id_at",
    "merge",
    "migrate",
    "purge_stale_stage",
    "archive",
    "candidates",
    "differing",
    "held",
    "read_context",
    "record_validation",
    "record_listing",
    "record_listing_ranges",
    "record_stream",
    "refresh_customer_sales",
    "register_stage",
    "rejected_ids",
    "stage_lines",
    "stage_rejects",
    "stage_rows",
    "staged",
    "staged_ids",
    "start_run",
    "warehouse_count",
    "warehouse_now",
]

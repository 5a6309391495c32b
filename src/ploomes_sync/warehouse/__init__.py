"""Everything that talks to the target PostgreSQL: migrations, staging, merges, aggregates, checks.

Every function takes an open, idle psycopg 3 connection (autocommit on or off), runs its own
transaction(s) and leaves the connection idle. SQL lives in ``include/sql``.
"""

from ploomes_sync.warehouse.aggregate import AggregateResult, aggregate_customer_sales
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
    last_full_check,
    record_stream,
    start_run,
)
from ploomes_sync.warehouse.merge import MergeResult, merge_customers, merge_sales, reconcile_deleted_sales
from ploomes_sync.warehouse.migrate import migrate
from ploomes_sync.warehouse.staging import (
    STREAMS,
    clear_rejects,
    clear_stage,
    drop_stage,
    purge_stale_stage,
    stage_listing_from_deals,
    stage_rejects,
    stage_rows,
)
from ploomes_sync.warehouse.validate import YearTable, compare_by_year

__all__ = [
    "STREAMS",
    "AggregateResult",
    "ConnectionNotIdle",
    "MergeResult",
    "MigrationError",
    "SqlFileMissing",
    "StageMissing",
    "WarehouseError",
    "YearTable",
    "add_api_usage",
    "aggregate_customer_sales",
    "clear_rejects",
    "clear_stage",
    "compare_by_year",
    "drop_stage",
    "finish_run",
    "get_run",
    "get_watermarks",
    "last_full_check",
    "merge_customers",
    "merge_sales",
    "migrate",
    "purge_stale_stage",
    "reconcile_deleted_sales",
    "record_stream",
    "stage_listing_from_deals",
    "stage_rejects",
    "stage_rows",
    "start_run",
]

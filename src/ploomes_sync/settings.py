"""Named defaults, in one place. Run-time configuration reads from here."""

from __future__ import annotations

from datetime import timedelta

# --- Ploomes API -------------------------------------------------------------------------------
PLOOMES_CONN_ID = "ploomes_default"
DEFAULT_BASE_URL = "https://public-api2.ploomes.com"
MAX_PAGE_SIZE = 300  # the API never returns more than 300 records a page
DEFAULT_PAGE_SIZE = MAX_PAGE_SIZE
DEFAULT_REQUESTS_PER_MINUTE = 120  # the whole account's budget
# Reads that expand each record's lines (orders, quotes) are heavy for the API, which may time out on
# large pages of them: they ask for this many records a page (full pages by default: half the requests
# of pages of 150), and halve it after a page that timed out, down to the floor. An account whose
# large pages time out every time sets expanded_page_size lower, and saves those failed requests.
DEFAULT_EXPANDED_PAGE_SIZE = MAX_PAGE_SIZE
MIN_EXPANDED_PAGE_SIZE = 10
DEFAULT_MAX_IN_FLIGHT = 8  # requests of one read in flight at once: holds the rate up to ~3.5 s latency
DEFAULT_TIMEOUT_SECONDS = 60.0
DEFAULT_MAX_ATTEMPTS = 5  # for 5xx, timeouts, dropped connections, invalid JSON
DEFAULT_BACKOFF_BASE_SECONDS = 2.0
DEFAULT_BACKOFF_MAX_SECONDS = 60.0
DEFAULT_MAX_THROTTLE_WAIT_SECONDS = 600.0  # total time a request may spend waiting out 429s
# Bounds of what one answer and one read may take (a hostile or broken server is never followed far):
DEFAULT_MAX_ANSWER_BYTES = 10 * 1024 * 1024  # Ploomes' own payloads stop at 10 MB
MAX_SAME_ORIGIN_REDIRECTS = 3  # a redirect elsewhere (scheme, host, port) is never followed
# A read stops, failing, past this many times the records Ploomes counted for it (or the warehouse
# holds of it) plus a margin: an API that ignores the Id bounds and keeps serving new records.
READ_CEILING_FACTOR = 2
READ_CEILING_MARGIN = 1000
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")  # where a plain-http base URL is allowed without allow_http
API_POOL = "ploomes_api"  # Airflow pool: how many tasks call the API at once (the budget is in the warehouse)
API_POOL_SLOTS = 3  # the two extracts side by side, and the webhook applier
USER_KEY_HEADER = "User-Key"  # the header that carries the API key
KEY_CHECK_ENDPOINT = "Account"  # GET /Account?$top=1&$select=Id checks a key cheaply
KEY_RENEWAL_PLACE = "Administração › Integrações › Usuários de integração"  # where keys are renewed
MAX_SERVER_MESSAGE_CHARS = 300  # how much of an error body goes into an exception message

# --- The DAGs --------------------------------------------------------------------------------------
DAG_ID = "ploomes_sales_sync"
# Nothing hangs: every task has an execution timeout and the run a dagrun timeout (the run must end
# before the next is due). An extract of 300,000 deals at 120 requests a minute takes ~9 minutes;
# its timeout leaves room for 429 storms (max_throttle_wait) and retries.
TASK_TIMEOUTS = {
    "default": timedelta(minutes=30),
    "plan_run": timedelta(minutes=15),  # applies pending migrations first
    "check_ploomes_key": timedelta(minutes=15),
    "extract": timedelta(hours=2),
    "load": timedelta(minutes=30),
    "list_deletions": timedelta(hours=2),
    "reconcile_deletions": timedelta(minutes=30),
    "aggregate": timedelta(minutes=30),
    "validate_by_year": timedelta(minutes=30),
    "finish_run": timedelta(minutes=10),
    "run": timedelta(hours=5, minutes=30),
}

# The runs of one Airflow backfill share one re-sync (ploomes_sync.warehouse.backfill): a claim on a
# run's interval that nobody took within this many hours is dropped; one re-sync covers at most this
# many runs on each side of the run that makes it (1,460 six-hourly runs are a year).
BACKFILL_CLAIM_HOURS = 24.0
BACKFILL_MAX_RUNS = 3_000

# --- The plugin and the webhooks ---------------------------------------------------------------
URL_PREFIX = "/ploomes-sync"  # where the plugin's app is mounted on the API server
WEBHOOK_CONN_ID = "ploomes_webhook"  # host: public base URL Ploomes calls; password: the validation key
WEBHOOK_MIN_KEY_LENGTH = 16  # a shorter validation key is guessed too easily: refused by the setup and the receiver
WEBHOOK_DAG_ID = "ploomes_webhook_apply"
WEBHOOK_SETUP_DAG_ID = "ploomes_webhook_setup"
WATCHDOG_DAG_ID = "ploomes_sync_watchdog"

# --- Warehouse ---------------------------------------------------------------------------------
SALES_DB_CONN_ID = "sales_db"
SYNC_SCHEMA = "ploomes_sync"
BUSINESS_TIMEZONE = "America/Sao_Paulo"
DEFAULT_CLIENT_TAG_ID = 40006184
# The EntityId of quotes in Ploomes' webhooks: 7 in the API's own typing, other sources disagree,
# so it is configuration (SyncConfig.quote_entity_id). Orders are 4, products 10, deals 2, contacts 1.
DEFAULT_QUOTE_ENTITY_ID = 7

# --- Alerts ------------------------------------------------------------------------------------
SMTP_CONN_ID = "smtp_default"
DEFAULT_ALERT_FROM = "ploomes-sync@localhost"

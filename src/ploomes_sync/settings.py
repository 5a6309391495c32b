"""Named defaults, in one place. Run-time configuration reads from here."""

from __future__ import annotations

# --- Ploomes API -------------------------------------------------------------------------------
PLOOMES_CONN_ID = "ploomes_default"
DEFAULT_BASE_URL = "https://public-api2.ploomes.com"
MAX_PAGE_SIZE = 300  # the API never returns more than 300 records a page
DEFAULT_PAGE_SIZE = MAX_PAGE_SIZE
DEFAULT_REQUESTS_PER_MINUTE = 120  # the whole account's budget
DEFAULT_TIMEOUT_SECONDS = 60.0
DEFAULT_MAX_ATTEMPTS = 5  # for 5xx, timeouts, dropped connections, invalid JSON
DEFAULT_BACKOFF_BASE_SECONDS = 2.0
DEFAULT_BACKOFF_MAX_SECONDS = 60.0
DEFAULT_MAX_THROTTLE_WAIT_SECONDS = 600.0  # total time a request may spend waiting out 429s
API_POOL = "ploomes_api"  # Airflow pool holding the account-wide limit across tasks
USER_KEY_HEADER = "User-Key"  # the header that carries the API key
PREFLIGHT_ENDPOINT = "Account"  # GET /Account?$top=1&$select=Id checks a key cheaply
KEY_RENEWAL_PLACE = "Administração › Integrações › Usuários de integração"  # where keys are renewed
MAX_SERVER_MESSAGE_CHARS = 300  # how much of an error body goes into an exception message

# --- Warehouse ---------------------------------------------------------------------------------
SALES_DB_CONN_ID = "sales_db"
SYNC_SCHEMA = "ploomes_sync"
BUSINESS_TIMEZONE = "America/Sao_Paulo"
DEFAULT_CLIENT_TAG_ID = 40006184

# --- Alerts ------------------------------------------------------------------------------------
SMTP_CONN_ID = "smtp_default"
DEFAULT_ALERT_FROM = "ploomes-sync@localhost"

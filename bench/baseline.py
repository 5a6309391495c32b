"""The old cron, as the baseline: offset pages of 50, a pause between pages, one upsert per row.

What the sync replaced, written to be fair to it, not a straw man:

- pages: ``$top=50&$skip=<n>`` with ``$orderby=Id`` (stable order, so on unchanging data it reads
  every record exactly once) and the same ``$select`` as the sync; the read ends on a short page;
- a pause of 500 ms after every page but the last (what kept it under 120 requests a minute);
- a 429 is waited out (``Retry-After``) and retried, so it finishes even if it crosses the limit;
- one ``INSERT ... ON CONFLICT (id) DO UPDATE`` per record, one transaction per page (a commit per
  row would be slower still);
- records are turned into rows by the sync's own :mod:`ploomes_sync.records` (the difference
  measured is the paging, the pause and the row-by-row writes, not the parsing), and
  ``public.customer_sales`` is recomputed by the sync's own aggregate, so the result is checked
  against the truth like the sync's.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import psycopg
import requests

from ploomes_sync import records, streams, warehouse
from ploomes_sync.settings import DEFAULT_CLIENT_TAG_ID, USER_KEY_HEADER

DEFAULT_TIMEOUT_SECONDS = 60.0
MAX_THROTTLED = 100  # 429s in a row before giving up

# The columns of public.sales the old cron wrote (it knew nothing of quotes)
OLD_SALES_COLUMNS = ("id", "customer_id", "title", "deal_value", "status", "won", "pipeline_id", "stage_id",
                     "owner_id", "created_at", "updated_at", "closed_at")
UPSERT_SALE = """
INSERT INTO public.sales (id, customer_id, title, deal_value, status, won, pipeline_id, stage_id, owner_id,
                          created_at, updated_at, closed_at, synced_at)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, now())
ON CONFLICT (id) DO UPDATE SET
    customer_id = EXCLUDED.customer_id, title = EXCLUDED.title, deal_value = EXCLUDED.deal_value,
    status = EXCLUDED.status, won = EXCLUDED.won, pipeline_id = EXCLUDED.pipeline_id,
    stage_id = EXCLUDED.stage_id, owner_id = EXCLUDED.owner_id, created_at = EXCLUDED.created_at,
    updated_at = EXCLUDED.updated_at, closed_at = EXCLUDED.closed_at, synced_at = EXCLUDED.synced_at
"""

OLD_CUSTOMER_COLUMNS = ("id", "name", "legal_name", "cnpj", "zip_code", "is_client", "created_at", "updated_at")
UPSERT_CUSTOMER = """
INSERT INTO public.customers (id, name, legal_name, cnpj, zip_code, is_client, created_at, updated_at, synced_at)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, now())
ON CONFLICT (id) DO UPDATE SET
    name = EXCLUDED.name, legal_name = EXCLUDED.legal_name, cnpj = EXCLUDED.cnpj, zip_code = EXCLUDED.zip_code,
    is_client = EXCLUDED.is_client, created_at = EXCLUDED.created_at, updated_at = EXCLUDED.updated_at,
    synced_at = EXCLUDED.synced_at
"""


@dataclass
class OldCronStats:
    """What one old-style sync did."""

    requests: int = 0
    throttled: int = 0
    pause_seconds: float = 0.0
    records: dict[str, int] = field(default_factory=dict)
    rejected: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)


class OldCron:
    """The old sync against ``base_url``: see the module docstring."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        page_size: int,
        pause_seconds: float,
        client_tag_id: int = DEFAULT_CLIENT_TAG_ID,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.page_size = page_size
        self.pause_seconds = pause_seconds
        self.client_tag_id = client_tag_id
        self.sleep = sleep
        self.session = requests.Session()
        self.session.trust_env = False  # loopback: never through a proxy named in the environment
        self.session.headers[USER_KEY_HEADER] = api_key
        self.stats = OldCronStats()

    def get(self, endpoint: str, params: dict[str, str]) -> list[dict[str, Any]]:
        """One page; a 429 is waited out and asked again, any other error raised."""
        for _ in range(MAX_THROTTLED):
            self.stats.requests += 1
            response = self.session.get(f"{self.base_url}/{endpoint}", params=params,
                                        timeout=DEFAULT_TIMEOUT_SECONDS)
            if response.status_code == 429:
                self.stats.throttled += 1
                self.sleep(float(response.headers.get("Retry-After") or 1))
                continue
            response.raise_for_status()
            return response.json()["value"]
        raise RuntimeError(f"GET {endpoint} answered 429 {MAX_THROTTLED} times in a row")

    def pages(self, endpoint: str, select: tuple[str, ...], expand: str | None = None) -> Iterator[list[dict]]:
        """Offset pages of ``page_size`` in Id order, with the pause after each but the last."""
        skip = 0
        while True:
            params = {"$top": str(self.page_size), "$skip": str(skip), "$orderby": "Id", "$select": ",".join(select)}
            if expand:
                params["$expand"] = expand
            page = self.get(endpoint, params)
            yield page
            if len(page) < self.page_size:
                return
            skip += self.page_size
            began = time.perf_counter()
            self.sleep(self.pause_seconds)
            self.stats.pause_seconds += time.perf_counter() - began

    def _sync(self, conn: psycopg.Connection, stream: str, pages: Iterator[list[dict]],
              to_params: Callable[[dict], tuple | None]) -> None:
        began = time.perf_counter()
        upsert = UPSERT_SALE if stream == "deals" else UPSERT_CUSTOMER
        written = rejected = 0
        for page in pages:
            with conn.transaction():
                for record in page:
                    values = to_params(record)
                    if values is None:
                        rejected += 1
                        continue
                    conn.execute(upsert, values)
                    written += 1
        self.stats.records[stream] = written
        self.stats.rejected[stream] = rejected
        self.stats.seconds[stream] = time.perf_counter() - began

    def sync_deals(self, conn: psycopg.Connection) -> None:
        """Every deal, page by page, one upsert each."""

        deals = streams.registry()["deals"]
        wanted = [deals.column_names.index(name) for name in OLD_SALES_COLUMNS]

        def to_params(record: dict) -> tuple | None:
            row = deals.row(record)
            return None if isinstance(row, records.Reject) else tuple(row[at] for at in wanted)

        self._sync(conn, "deals", self.pages("Deals", streams.registry()["deals"].select), to_params)

    def sync_contacts(self, conn: psycopg.Connection) -> None:
        """Every contact (tags expanded), page by page, one upsert each."""

        contacts = streams.contacts()
        wanted = [contacts.column_names.index(name) for name in OLD_CUSTOMER_COLUMNS]

        def to_params(record: dict) -> tuple | None:
            row = contacts.row(record, streams.ReadContext(client_tag_id=self.client_tag_id))
            return None if isinstance(row, records.Reject) else tuple(row[at] for at in wanted)

        self._sync(conn, "contacts", self.pages("Contacts", streams.contacts().select, expand="Tags"), to_params)

    def run(self, db_url: str) -> OldCronStats:
        """Schema, deals, contacts, then ``public.customer_sales``; the timings land in ``stats``."""
        with psycopg.connect(db_url, autocommit=True) as conn:
            began = time.perf_counter()
            warehouse.migrate(conn)
            self.stats.seconds["migrate"] = time.perf_counter() - began
            self.sync_deals(conn)
            self.sync_contacts(conn)
            began = time.perf_counter()
            warehouse.aggregate_customer_sales(conn)
            self.stats.seconds["aggregate"] = time.perf_counter() - began
        self.session.close()
        return self.stats

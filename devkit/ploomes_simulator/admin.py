"""AdminClient: drives a running simulator through its ``/_admin`` endpoints over HTTP."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import quote

DEFAULT_ADMIN_TIMEOUT_SECONDS = 120.0


class AdminError(RuntimeError):
    """An admin endpoint answered with an error status."""

    def __init__(self, method: str, url: str, status: int, body: str) -> None:
        super().__init__(f"{method} {url} answered {status}: {body[:500]}")
        self.method = method
        self.url = url
        self.status = status
        self.body = body


class AdminClient:
    """Thin client of the admin endpoints; every method is one HTTP request."""

    def __init__(self, base_url: str, timeout: float = DEFAULT_ADMIN_TIMEOUT_SECONDS) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        # never send loopback traffic through a proxy named in the environment
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def __repr__(self) -> str:
        return f"AdminClient({self.base_url!r})"

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        url = f"{self.base_url}/_admin/{path}"
        data = None if body is None else json.dumps(body).encode("utf-8")
        request = urllib.request.Request(url, data=data, method=method)
        if data is not None:
            request.add_header("Content-Type", "application/json")
        try:
            with self._opener.open(request, timeout=self.timeout) as response:
                payload = response.read()
        except urllib.error.HTTPError as exc:
            raise AdminError(method, url, exc.code, exc.read().decode("utf-8", "replace")) from exc
        return json.loads(payload) if payload else None

    # --- records -------------------------------------------------------------------------

    def truth_deals(self, custom: bool = False) -> list[dict[str, Any]]:
        """Every current deal in full API form, sorted by Id (with ``custom``, its custom values compact
        under ``OtherProperties``)."""
        return self.truth("deals", custom)

    def truth_contacts(self, custom: bool = False) -> list[dict[str, Any]]:
        """Every current contact in full API form (with Tags), sorted by Id (``custom``: as above)."""
        return self.truth("contacts", custom)

    def create_deal(self, **fields: Any) -> dict[str, Any]:
        """Create a deal; Id, dates and other fields are defaulted when not given."""
        return self._call("POST", "deals", fields)

    def create_deal_raw(self, obj: dict[str, Any]) -> dict[str, Any]:
        """Store ``obj`` exactly as given (hostile data: any types, missing fields)."""
        return self._call("POST", "deals?raw=1", obj)

    def get_deal(self, deal_id: int | str) -> dict[str, Any]:
        """One deal as stored."""
        return self._call("GET", f"deals/{quote(str(deal_id))}")

    def update_deal(self, deal_id: int | str, **fields: Any) -> dict[str, Any]:
        """Change fields of a deal; LastUpdateDate becomes now unless given."""
        return self._call("PATCH", f"deals/{quote(str(deal_id))}", fields)

    def update_deal_raw(self, deal_id: int | str, obj: dict[str, Any]) -> dict[str, Any]:
        """Merge ``obj`` into a deal exactly as given (no checks, LastUpdateDate untouched)."""
        return self._call("PATCH", f"deals/{quote(str(deal_id))}?raw=1", obj)

    def delete_deal(self, deal_id: int | str) -> dict[str, Any]:
        """Delete a deal; returns the record it was."""
        return self._call("DELETE", f"deals/{quote(str(deal_id))}")

    def truth(self, entity: str, custom: bool = False) -> list[dict[str, Any]]:
        """Every current record of ``entity`` (``deals``, ``products``, ``orders``, ``fields``,
        ``options_tables``, ``pipelines``, ``stages``, ``loss_reasons``, ...) in full form (orders and
        quotes with their lines under ``Products``; with ``custom``, the custom values compact under
        ``OtherProperties``: ``{field key: value}``), sorted by Id."""
        return self._call("GET", f"truth/{entity}" + ("?custom=1" if custom else ""))

    def create(self, entity: str, **fields: Any) -> dict[str, Any]:
        """Create a record of ``entity``; what is not given is defaulted (an order's or a quote's
        lines, under ``Products``, get Ids and Totals; its Amount follows them)."""
        return self._call("POST", entity, fields)

    def update(self, entity: str, record_id: int | str, **fields: Any) -> dict[str, Any]:
        """Change fields of a record of ``entity``; LastUpdateDate becomes now unless given."""
        return self._call("PATCH", f"{entity}/{quote(str(record_id))}", fields)

    def delete(self, entity: str, record_id: int | str) -> dict[str, Any]:
        """Delete a record of ``entity`` (it simply vanishes from lists); returns the record it was."""
        return self._call("DELETE", f"{entity}/{quote(str(record_id))}")

    def truth_users(self) -> list[dict[str, Any]]:
        """Every user (``/Users``) as stored."""
        return self._call("GET", "truth/users")

    def update_user(self, user_id: int | str, **fields: Any) -> dict[str, Any]:
        """Change fields of a user; LastUpdateDate becomes now unless given."""
        return self._call("PATCH", f"users/{quote(str(user_id))}", fields)

    def delete_user(self, user_id: int | str) -> dict[str, Any]:
        """Delete a user; returns the record it was."""
        return self._call("DELETE", f"users/{quote(str(user_id))}")

    def create_contact(self, **fields: Any) -> dict[str, Any]:
        """Create a contact; Tags may be given as tag ids."""
        return self._call("POST", "contacts", fields)

    def create_contact_raw(self, obj: dict[str, Any]) -> dict[str, Any]:
        """Store ``obj`` exactly as given."""
        return self._call("POST", "contacts?raw=1", obj)

    def get_contact(self, contact_id: int | str) -> dict[str, Any]:
        """One contact as stored."""
        return self._call("GET", f"contacts/{quote(str(contact_id))}")

    def update_contact(self, contact_id: int | str, **fields: Any) -> dict[str, Any]:
        """Change fields of a contact; LastUpdateDate becomes now unless given."""
        return self._call("PATCH", f"contacts/{quote(str(contact_id))}", fields)

    def update_contact_raw(self, contact_id: int | str, obj: dict[str, Any]) -> dict[str, Any]:
        """Merge ``obj`` into a contact exactly as given."""
        return self._call("PATCH", f"contacts/{quote(str(contact_id))}?raw=1", obj)

    def delete_contact(self, contact_id: int | str) -> dict[str, Any]:
        """Delete a contact; returns the record it was."""
        return self._call("DELETE", f"contacts/{quote(str(contact_id))}")

    def mutate(
        self, updates: int = 0, deletes: int = 0, creates: int = 0, seed: int = 0, orders: int = 0,
        price_changes: int = 0, commerce_deletes: int = 0,
    ) -> dict[str, list[int]]:
        """Random updates, deletions and creations of deals: ``{"updated", "deleted", "created"}``; with
        ``orders``, ``price_changes`` or ``commerce_deletes``, also new orders of won deals, changed catalogue
        prices and deletions of each of orders, quotes and products (``orders_created``, ``prices_changed``,
        ``orders_deleted``, ``quotes_deleted``, ``products_deleted``)."""
        return self._call("POST", "mutate", {"updates": updates, "deletes": deletes, "creates": creates, "seed": seed,
                                             "orders": orders, "price_changes": price_changes,
                                             "commerce_deletes": commerce_deletes})

    # --- behaviour -----------------------------------------------------------------------

    def config(self) -> dict[str, Any]:
        """The current configuration."""
        return self._call("GET", "config")

    def configure(self, **settings: Any) -> dict[str, Any]:
        """Change run-time settings (api_key, auth_status, rate_limit, retry_after,
        count_supported, slow_seconds, latency_seconds, latency_jitter_seconds); returns the whole configuration."""
        return self._call("PUT", "config", settings)

    def set_faults(
        self,
        schedule: list[dict[str, Any]] | None = None,
        probability: dict[str, float] | None = None,
        seed: int = 0,
    ) -> dict[str, Any]:
        """Replace the fault configuration."""
        return self._call(
            "PUT", "faults", {"schedule": schedule or [], "probability": probability or {}, "seed": seed}
        )

    def faults(self) -> dict[str, Any]:
        """The fault configuration and what is left of the schedule."""
        return self._call("GET", "faults")

    def clear_faults(self) -> None:
        """No more faults."""
        self._call("DELETE", "faults")

    def requests(self) -> list[dict[str, Any]]:
        """The log of API requests, oldest first."""
        return self._call("GET", "requests")["requests"]

    def request_counts(self) -> dict[str, Any]:
        """``{"total": n, "by_status": {"200": n, ...}}``."""
        return self._call("GET", "requests")["counts"]

    def clear_requests(self) -> None:
        """Clear the request log and its counters."""
        self._call("DELETE", "requests")

    def webhooks(self) -> list[dict[str, Any]]:
        """The webhooks registered through the API."""
        return self._call("GET", "webhooks")["webhooks"]

    def deliveries(self) -> list[dict[str, Any]]:
        """What happened to each webhook delivery (sent: its status; or dropped), in the order settled."""
        return self._call("GET", "webhooks")["deliveries"]

    def delivery_state(self) -> tuple[list[dict[str, Any]], int]:
        """The delivery log and the deliveries not in it yet, from one reading."""
        state = self._call("GET", "webhooks")
        return state["deliveries"], state["pending"]

    def clear_webhooks(self) -> None:
        """Forget every webhook, pending delivery and delivery log entry."""
        self._call("DELETE", "webhooks")

    def reset(self) -> None:
        """Regenerate the initial data; clear faults and log; restore the initial settings."""
        self._call("POST", "reset")

    def health(self) -> dict[str, Any]:
        """``{"status": "ok", "deals": n, "contacts": n, ...}``: each entity's records, and under
        ``vocabulary`` what a whole read of each vocabulary list answers."""
        return self._call("GET", "health")

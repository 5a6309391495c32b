"""Provider entry point: makes the "ploomes" connection type appear in Airflow's connection form.

The form is declared here (``conn-fields``, ``ui-field-behaviour``), the way Airflow 3.2+ reads
it, so the UI needs no import of the hook and no web-form libraries. Every option of
:class:`ploomes_sync.api.options.PloomesOptions` has a field, and its JSON schema is the one the
hook checks the connection's extras (and its arguments) against.
"""

from __future__ import annotations

from typing import Any

from ploomes_sync import settings


def _number(label: str, description: str, default: float, *, integer: bool = False, minimum: float | None = 0,
            exclusive_minimum: float | None = None, maximum: float | None = None) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": ["integer" if integer else "number", "null"], "default": default}
    for key, value in (("minimum", minimum), ("exclusiveMinimum", exclusive_minimum), ("maximum", maximum)):
        if value is not None:
            schema[key] = value
    return {"label": label, "description": description, "schema": schema}


CONN_FIELDS: dict[str, Any] = {
    "requests_per_minute": _number(
        "Requests per minute", "The account-wide API budget the sync may spend (every key and app of the "
        "account shares 120); lower it to leave room for other integrations.",
        settings.DEFAULT_REQUESTS_PER_MINUTE, minimum=None, exclusive_minimum=0),
    "page_size": _number(
        "Page size", f"Records asked per request; the API never returns more than {settings.MAX_PAGE_SIZE}.",
        settings.DEFAULT_PAGE_SIZE, integer=True, minimum=1, maximum=settings.MAX_PAGE_SIZE),
    "expanded_page_size": _number(
        "Page size with lines", "Records asked per request when each record's lines come with it (orders, "
        "quotes): such pages are heavy for the API, which times out on large ones. A read that times out goes "
        f"on with pages half the size, down to {settings.MIN_EXPANDED_PAGE_SIZE}, and says so in the log.",
        settings.DEFAULT_EXPANDED_PAGE_SIZE, integer=True, minimum=settings.MIN_EXPANDED_PAGE_SIZE,
        maximum=settings.MAX_PAGE_SIZE),
    "max_in_flight": _number(
        "Requests in flight", "How many requests of one read may wait for answers at once (large reads are "
        "cut into Id ranges read side by side), so the API's latency does not set the pace.",
        settings.DEFAULT_MAX_IN_FLIGHT, integer=True, minimum=1, maximum=32),
    "timeout": _number("Timeout (s)", "Seconds one answer may take, its whole body included, before it is "
                       "retried.", settings.DEFAULT_TIMEOUT_SECONDS, minimum=None, exclusive_minimum=0),
    "max_answer_bytes": _number(
        "Largest answer (bytes)", "An answer larger than this is refused (and retried); Ploomes' own stop at 10 MB.",
        settings.DEFAULT_MAX_ANSWER_BYTES, integer=True, minimum=65536),
    "max_attempts": _number("Attempts", "Attempts of one request failing with a 5xx, a timeout, a dropped "
                            "connection or an invalid body.", settings.DEFAULT_MAX_ATTEMPTS, integer=True, minimum=1),
    "backoff_base": _number("Backoff base (s)", "First wait between attempts; it doubles each time.",
                            settings.DEFAULT_BACKOFF_BASE_SECONDS),
    "backoff_max": _number("Backoff max (s)", "Longest wait between attempts.", settings.DEFAULT_BACKOFF_MAX_SECONDS),
    "max_throttle_wait": _number(
        "429 budget (s)", "Seconds one request may spend waiting out 429 answers before it fails.",
        settings.DEFAULT_MAX_THROTTLE_WAIT_SECONDS),
    "verify": {"label": "Verify TLS", "description": "Check the API's certificate (leave on), or the path "
               "of a CA bundle to check it with.", "schema": {"type": ["boolean", "string", "null"], "default": True}},
    "trust_env": {"label": "Use proxy settings", "description": "Honour HTTPS_PROXY and similar variables.",
                  "schema": {"type": ["boolean", "null"], "default": True}},
    "allow_http": {"label": "Allow plain HTTP", "description": "Send the key over plain http to a host other "
                   "than this machine (a test server on a private network only; Ploomes is https).",
                   "schema": {"type": ["boolean", "null"], "default": False}},
}

CONNECTION_TYPE: dict[str, Any] = {
    "connection-type": "ploomes",
    "hook-class-name": "ploomes_sync.hooks.ploomes.PloomesHook",
    "ui-field-behaviour": {
        "hidden-fields": ["schema", "login", "port"],
        "relabeling": {"host": "Base URL", "password": "API key (User-Key)"},
        "placeholders": {"host": settings.DEFAULT_BASE_URL, "password": "User-Key of an integration user"},
    },
    "conn-fields": CONN_FIELDS,
}


def get_provider_info() -> dict[str, Any]:
    """What Airflow's providers manager reads from the ``apache_airflow_provider`` entry point."""
    return {
        "package-name": "ploomes-sync",
        "name": "Ploomes",
        "description": "Ploomes CRM: a hook with keyset paging, rate limiting and clear 403 errors.",
        "versions": ["0.2.0"],
        "connection-types": [CONNECTION_TYPE],
    }

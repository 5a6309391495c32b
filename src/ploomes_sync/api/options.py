"""How the hook talks to the API: its base URL and its options, each checked against the connection form's schema.

The schema is the one in :mod:`ploomes_sync.provider` (what Airflow's connection form shows), so the
form and the checks cannot disagree. Constructor arguments win over the connection's extras, which
win over the defaults of :mod:`ploomes_sync.settings`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any
from urllib.parse import unquote, urlsplit

from ploomes_sync import settings
from ploomes_sync.provider import CONN_FIELDS


@dataclass(frozen=True)
class PloomesOptions:
    """How the hook talks to the API: constructor arguments, else connection extras, else these."""

    requests_per_minute: float = settings.DEFAULT_REQUESTS_PER_MINUTE
    page_size: int = settings.DEFAULT_PAGE_SIZE
    expanded_page_size: int = settings.DEFAULT_EXPANDED_PAGE_SIZE
    max_in_flight: int = settings.DEFAULT_MAX_IN_FLIGHT
    timeout: float = settings.DEFAULT_TIMEOUT_SECONDS
    max_attempts: int = settings.DEFAULT_MAX_ATTEMPTS
    backoff_base: float = settings.DEFAULT_BACKOFF_BASE_SECONDS
    backoff_max: float = settings.DEFAULT_BACKOFF_MAX_SECONDS
    max_throttle_wait: float = settings.DEFAULT_MAX_THROTTLE_WAIT_SECONDS
    max_answer_bytes: int = settings.DEFAULT_MAX_ANSWER_BYTES
    verify: bool | str = True  # False, or a CA bundle's path
    trust_env: bool = True  # proxies and CA bundles named by the environment
    allow_http: bool = False  # plain http to a host other than loopback (a test server only)

    @classmethod
    def resolve(cls, overrides: Mapping[str, Any], extra: Mapping[str, Any], conn_id: str) -> PloomesOptions:
        """Arguments, else extras, else defaults; each checked, with an error naming where it came from."""
        values: dict[str, Any] = {}
        for spec in fields(cls):
            raw, origin = overrides.get(spec.name), f"argument {spec.name!r}"
            if raw is None:
                raw, origin = extra.get(spec.name), f"extra {spec.name!r} of connection {conn_id!r}"
            if raw is None or raw == "":
                continue
            if spec.name in ("page_size", "expanded_page_size") and _number(raw, int, origin) > settings.MAX_PAGE_SIZE:
                raw = settings.MAX_PAGE_SIZE  # the API never serves more: asking for more is harmless
            values[spec.name] = _checked(spec.name, raw, origin)
        return cls(**values)


def base_url(host: str | None, schema: str | None = None, port: int | None = None) -> str:
    """The API's base URL from a connection's host (Ploomes' own when empty), schema and port."""
    url = (host or "").strip() or settings.DEFAULT_BASE_URL
    if "://" not in url:
        url = f"{schema or 'https'}://{url}"
    if port:
        url = f"{url.rstrip('/')}:{port}"
    return url.rstrip("/")


def origin(url: str) -> tuple[str, str, int | None]:
    """Scheme, host and port of ``url`` (the port the scheme implies when none is written)."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    return scheme, (parts.hostname or "").lower(), parts.port or {"https": 443, "http": 80}.get(scheme)


def endpoint_of(url: str, base: str) -> str:
    """The endpoint ``url`` asks for, relative to the base URL ``base`` and without its query
    (``Orders``, ``Deals@Stages``)."""
    path = unquote(urlsplit(url).path)
    prefix = urlsplit(base).path.rstrip("/")
    if prefix and path.startswith(prefix):
        path = path[len(prefix):]
    return path.strip("/")


def check_scheme(url: str, *, allow_http: bool, conn_id: str) -> None:
    """Refuse a base URL that would carry the key unencrypted to another machine (ValueError)."""
    scheme, host, _ = origin(url)
    if scheme == "https" or (scheme == "http" and (allow_http or host in settings.LOOPBACK_HOSTS
                                                   or host.startswith("127."))):
        return
    if scheme == "http":
        raise ValueError(
            f"Connection {conn_id!r} has the base URL {url}: plain http would carry the User-Key unencrypted. "
            "Use https (Ploomes' API is https://public-api2.ploomes.com, or your account's shard); only for a "
            "test server on a private network, set the connection's extra allow_http to true.")
    raise ValueError(f"Connection {conn_id!r} has the base URL {url}: it must start with https://.")


def _truth(raw: Any) -> bool | None:
    if isinstance(raw, bool):
        return raw
    return {"true": True, "false": False}.get(raw.lower()) if isinstance(raw, str) else None


def _checked(name: str, raw: Any, origin: str) -> Any:
    """``raw`` as the option's JSON schema in ``ploomes_sync.provider`` (the connection form's) allows it."""
    schema = CONN_FIELDS[name]["schema"]
    types = set(schema["type"]) - {"null"}
    truth = _truth(raw) if "boolean" in types else None
    if truth is not None:
        return truth
    if "string" in types and isinstance(raw, str) and raw.strip():
        return raw
    if "boolean" in types:
        allowed = "true, false or a CA bundle's path" if "string" in types else "true or false"
        raise ValueError(f"{origin} must be {allowed}, got {raw!r}")
    value = _number(raw, int if "integer" in types else float, origin)
    if "minimum" in schema and value < schema["minimum"]:
        raise ValueError(f"{origin} must be at least {schema['minimum']}, got {raw!r}")
    if "exclusiveMinimum" in schema and value <= schema["exclusiveMinimum"]:
        raise ValueError(f"{origin} must be more than {schema['exclusiveMinimum']}, got {raw!r}")
    if "maximum" in schema and value > schema["maximum"]:
        raise ValueError(f"{origin} must be at most {schema['maximum']}, got {raw!r}")
    return value


def _number(raw: Any, kind: type, origin: str) -> Any:
    if isinstance(raw, bool):
        raise ValueError(f"{origin} must be a number, got {raw!r}")
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise ValueError(f"{origin} must be a number, got {raw!r}") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise ValueError(f"{origin} must be a finite number, got {raw!r}")
    if kind is int:
        if not value.is_integer():
            raise ValueError(f"{origin} must be a whole number, got {raw!r}")
        return int(value)
    return value


OPTION_NAMES = tuple(spec.name for spec in fields(PloomesOptions))

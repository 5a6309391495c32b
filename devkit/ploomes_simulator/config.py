"""The simulator's configuration and its named defaults."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

DEMO_API_KEY = "ploomes-simulator-demo-key"
API_KEY_ENV = "PLOOMES_SIMULATOR_API_KEY"
DEFAULT_DEALS = 30_000
DEFAULT_CONTACTS = 2_000
DEFAULT_SEED = 42
DEFAULT_RATE_LIMIT = 120  # requests a minute, account-wide, as the real API documents
DEFAULT_SLOW_SECONDS = 2.0
DEFAULT_HOST = "127.0.0.1"
DEFAULT_CLI_PORT = 8089

# What PUT /_admin/config may change at run time, and the type each must have.
RUNTIME_SETTINGS: dict[str, tuple[type, ...]] = {
    "api_key": (str,),
    "auth_status": (int,),
    "rate_limit": (int,),
    "retry_after": (bool,),
    "count_supported": (bool,),
    "slow_seconds": (int, float),
    "latency_seconds": (int, float),
    "latency_jitter_seconds": (int, float),
    "latency_tail_percent": (int, float),
    "latency_tail_seconds": (int, float),
    "max_page_size": (int,),
    "expand_timeout_top": (int,),
    "hidden_deals_percent": (int,),
    "ignored_options": (str,),
    "refused_options": (str,),
    "webhook_delay_seconds": (int, float),
    "webhook_shuffle": (bool,),
    "webhook_drop_percent": (int, float),
    "webhook_duplicate_percent": (int, float),
    "error_shape": (str,),
    "redirect_to": (str,),
    "huge_answer_bytes": (int,),
    "drip_seconds": (int, float),
    "echo_key": (bool,),
    "forbidden_paths": (str,),
}

# How an error body is written (all three are seen in the wild, see shared/ploomes-api.md):
# OData {"error": {"code", "message"}}, ASP.NET {"Message": ...}, and a bare string under "value"
# beside "@odata.context" (what a malformed request was answered with).
ERROR_SHAPES = ("odata", "aspnet", "value")


@dataclass
class SimulatorConfig:
    """How to generate the data and how the API behaves. ``port=0`` picks a free port."""

    deals: int = DEFAULT_DEALS
    contacts: int = DEFAULT_CONTACTS
    seed: int = DEFAULT_SEED
    api_key: str = DEMO_API_KEY
    rate_limit: int = DEFAULT_RATE_LIMIT  # 0 = no limit
    retry_after: bool = True
    count_supported: bool = True
    auth_status: int = 403
    slow_seconds: float = DEFAULT_SLOW_SECONDS
    latency_seconds: float = 0.0  # every API answer waits this long ...
    latency_jitter_seconds: float = 0.0  # ... plus a uniform random part up to this,
    latency_tail_percent: float = 0.0  # ... except this share of answers, drawn at random,
    latency_tail_seconds: float = 0.0  # ... which take this long instead (an uneven API's slow tail)
    max_page_size: int = 300  # a larger $top is cut to this, silently (as the API is reported to)
    # A read that expands the lines of orders or quotes (heavy for the API) with a $top above this
    # times out: 504 (0: never). Smaller pages of the same read are answered.
    expand_timeout_top: int = 0
    hidden_deals_percent: int = 0  # the API hides this share of deals (a key that lost permissions)
    # This share of the generated deals and contacts carry a LastUpdateDate days after the API's
    # own clock (a clock glitch, or an import that set the dates): generated once, at start.
    dated_ahead_percent: float = 0.0
    error_shape: str = "odata"  # see ERROR_SHAPES
    # Wrong answers (fault kinds, see faults.py): where a "redirect" sends the client (another host:
    # whatever it is sent there, the key included, is that host's), how large a "huge" answer is,
    # how slowly a "drip" answer comes. With echo_key, a 401/403 quotes the key it was sent in
    # other forms (lower case, base64, its first half), as a careless server might.
    redirect_to: str = "http://127.0.0.1:9"
    huge_answer_bytes: int = 12 * 1024 * 1024
    drip_seconds: float = 1.0
    echo_key: bool = False
    # Paths answered 403 although the key is good, comma-separated ("/Orders,/Quotes"): an
    # integration user without the permission of a module.
    forbidden_paths: str = ""
    # Query options the API silently ignores, comma-separated: "$skip" (offsets), "$orderby" (then
    # lists come in its default order, ascending Id). Ploomes is not known to; readers must not care.
    ignored_options: str = ""
    refused_options: str = ""  # ... and those it answers 400 to
    # Webhook deliveries: each leaves this long after the change (with webhook_shuffle, a uniform
    # random part of it, so deliveries overtake each other); this share is never sent, this share
    # is sent twice.
    webhook_delay_seconds: float = 0.0
    webhook_shuffle: bool = False
    webhook_drop_percent: float = 0.0
    webhook_duplicate_percent: float = 0.0
    host: str = DEFAULT_HOST
    port: int = 0

    def __post_init__(self) -> None:
        validate_settings(asdict(self))
        if self.deals < 0 or self.contacts < 0:
            raise ValueError("deals and contacts must not be negative")

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready copy."""
        return asdict(self)


IGNORABLE_OPTIONS = frozenset({"$skip", "$orderby"})


def ignored_option_names(text: str) -> tuple[str, ...]:
    """The option names of an ``ignored_options`` or ``refused_options`` setting."""
    return tuple(name.strip() for name in text.split(",") if name.strip())


def validate_settings(settings: dict[str, Any]) -> None:
    """Raise ValueError when a run-time setting has the wrong type or value."""
    for name, value in settings.items():
        if name not in RUNTIME_SETTINGS:
            continue
        types = RUNTIME_SETTINGS[name]
        if type(value) not in types:
            raise ValueError(
                f"{name} must be of type {' or '.join(t.__name__ for t in types)}, got {value!r}"
            )
    if settings.get("auth_status", 403) not in (401, 403):
        raise ValueError("auth_status must be 401 or 403")
    if settings.get("rate_limit", 0) < 0:
        raise ValueError("rate_limit must not be negative (0 turns it off)")
    if not 0 <= settings.get("hidden_deals_percent", 0) <= 100:
        raise ValueError("hidden_deals_percent must be between 0 and 100")
    if not 0 <= settings.get("dated_ahead_percent", 0) <= 100:
        raise ValueError("dated_ahead_percent must be between 0 and 100")
    if settings.get("error_shape", "odata") not in ERROR_SHAPES:
        raise ValueError(f"error_shape must be one of {ERROR_SHAPES}")
    if settings.get("expand_timeout_top", 0) < 0:
        raise ValueError("expand_timeout_top must not be negative (0 turns it off)")
    if not 1 <= settings.get("max_page_size", 300) <= 300:
        raise ValueError("max_page_size must be between 1 and 300")
    for name in ("ignored_options", "refused_options"):
        unknown = set(ignored_option_names(settings.get(name, ""))) - IGNORABLE_OPTIONS
        if unknown:
            raise ValueError(f"{name} may name {sorted(IGNORABLE_OPTIONS)}, not {sorted(unknown)}")
    if not str(settings.get("redirect_to", "http://x")).startswith(("http://", "https://")):
        raise ValueError("redirect_to must be an http(s) base URL")
    if settings.get("huge_answer_bytes", 1) < 1:
        raise ValueError("huge_answer_bytes must be positive")
    for name in ("drip_seconds", "slow_seconds", "latency_seconds", "latency_jitter_seconds", "latency_tail_seconds",
                 "webhook_delay_seconds"):
        if settings.get(name, 0) < 0:
            raise ValueError(f"{name} must not be negative")
    for name in ("webhook_drop_percent", "webhook_duplicate_percent", "latency_tail_percent"):
        if not 0 <= settings.get(name, 0) <= 100:
            raise ValueError(f"{name} must be between 0 and 100")

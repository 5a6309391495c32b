"""PloomesHook: the Ploomes public API over the http provider's HttpHook.

Connection ``ploomes_default`` (type ``ploomes``): host = base URL (``https://public-api2.ploomes.com``
when empty), password = the User-Key, extras = options (``requests_per_minute`` default 120,
``page_size`` default and maximum 300; also ``timeout``, ``max_attempts``, ``backoff_base``,
``backoff_max``, ``max_throttle_wait``). Arguments given to the constructor win over the extras.

    hook = PloomesHook()
    hook.preflight()                           # GET /Account?$top=1&$select=Id: is the key good?
    for page in hook.iter_pages("Deals", filter="StatusId eq 2", select=["Id", "Amount"]):
        load(page.records)                     # one page in memory at a time
    hook.count("Deals")                        # @odata.count, or None when the API won't say
    hook.stats                                 # requests, pages, records, 429s, retries, waits
"""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, fields
from typing import Any, NoReturn
from urllib.parse import unquote_plus

import requests
import tenacity
from airflow.providers.http.hooks.http import HttpHook
from requests import PreparedRequest, Request, Response, Session

from ploomes_sync import settings
from ploomes_sync.api import retry
from ploomes_sync.api.errors import (
    PloomesAuthError,
    PloomesBadRequestError,
    PloomesError,
    PloomesInvalidResponseError,
    PloomesRequestError,
    PloomesServerError,
    PloomesThrottledError,
    server_message,
)
from ploomes_sync.api.paging import KeysetPaginator, select_with_key
from ploomes_sync.api.ratelimit import RateLimiter, shared_limiter

REDACTED = "***"


@dataclass(frozen=True)
class PloomesOptions:
    """How the hook talks to the API, resolved from arguments, then extras, then these defaults."""

    requests_per_minute: float = settings.DEFAULT_REQUESTS_PER_MINUTE
    page_size: int = settings.DEFAULT_PAGE_SIZE
    timeout: float = settings.DEFAULT_TIMEOUT_SECONDS
    max_attempts: int = settings.DEFAULT_MAX_ATTEMPTS
    backoff_base: float = settings.DEFAULT_BACKOFF_BASE_SECONDS
    backoff_max: float = settings.DEFAULT_BACKOFF_MAX_SECONDS
    max_throttle_wait: float = settings.DEFAULT_MAX_THROTTLE_WAIT_SECONDS


_INTEGER_OPTIONS = frozenset({"page_size", "max_attempts"})
_POSITIVE_OPTIONS = frozenset({"requests_per_minute", "page_size", "timeout", "max_attempts"})
OPTION_NAMES = tuple(spec.name for spec in fields(PloomesOptions))
# Extras HttpHook must not see: it would send every unknown extra as a request header.
# ("timeout" stays: HttpHook knows it and never turns it into a header.)
_PLOOMES_EXTRAS = frozenset(OPTION_NAMES) - {"timeout"}


@dataclass
class RequestStats:
    """Counters of one hook, for logs and run history (waits in seconds)."""

    requests: int = 0  # sent, retries included
    pages: int = 0  # non-empty pages yielded
    records: int = 0
    throttled: int = 0  # answers 429
    retries: int = 0
    limiter_wait_seconds: float = 0.0
    backoff_wait_seconds: float = 0.0  # waiting out failures and 429s

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready copy."""
        return asdict(self)


@dataclass
class Page:
    """One non-empty page of a list: its number (from 1), its records and the last Id in it."""

    number: int
    records: list[dict[str, Any]]
    last_id: int


def readable_url(url: str | None) -> str:
    """A URL with its query decoded, for messages (the key is a header, never part of it)."""
    return unquote_plus(url or "")


class _HttpExtras:
    """A connection seen by HttpHook: the same host, extras without the Ploomes options."""

    def __init__(self, connection: Any) -> None:
        self.host = connection.host
        self.extra_dejson = {
            name: value
            for name, value in dict(connection.extra_dejson).items()
            if name not in _PLOOMES_EXTRAS and not name.startswith("extra__ploomes__")
        }


class PloomesHook(HttpHook):
    """Reads Ploomes lists with keyset paging, a client-side rate limit and bounded retries.

    - Paging: ``$orderby=Id`` and ``Id gt <last>``, never ``$skip``; ends only on an empty page.
      Pages are streamed: memory stays flat however long the list.
    - 401/403: :class:`PloomesAuthError` (an ``AirflowFailException``: no task retry) naming the
      likely causes. Other 4xx: :class:`PloomesBadRequestError`, no retry.
    - 429: waits ``Retry-After`` (or backs off exponentially) up to ``max_throttle_wait`` seconds
      in total. 5xx, timeouts, dropped connections, invalid JSON: up to ``max_attempts`` attempts,
      then :class:`PloomesRequestError`.
    - Rate: requests of one process are spaced ``60 / requests_per_minute`` seconds apart. The
      limit is the account's (every key and app of the account shares it): across concurrent
      tasks it is held by the Airflow pool ``ploomes_api`` (see ``settings.API_POOL``), which the
      DAG assigns to every task that calls the API.

    A request runs in overridable stages: :meth:`build_params`, :meth:`prepare_request`,
    :meth:`send`, :meth:`check_response` and :meth:`parse_payload`; :meth:`retry_policy` supplies
    the tenacity pieces. ``__init__`` only stores arguments: the connection is read on first use.
    """

    conn_name_attr = "ploomes_conn_id"
    default_conn_name = settings.PLOOMES_CONN_ID
    conn_type = "ploomes"
    hook_name = "Ploomes"
    default_host = settings.DEFAULT_BASE_URL

    def __init__(
        self,
        ploomes_conn_id: str = default_conn_name,
        requests_per_minute: float | None = None,
        page_size: int | None = None,
        *,
        timeout: float | None = None,
        max_attempts: int | None = None,
        backoff_base: float | None = None,
        backoff_max: float | None = None,
        max_throttle_wait: float | None = None,
    ) -> None:
        super().__init__(method="GET", http_conn_id=ploomes_conn_id)
        self.ploomes_conn_id = ploomes_conn_id
        self._overrides: dict[str, Any] = {
            "requests_per_minute": requests_per_minute,
            "page_size": page_size,
            "timeout": timeout,
            "max_attempts": max_attempts,
            "backoff_base": backoff_base,
            "backoff_max": backoff_max,
            "max_throttle_wait": max_throttle_wait,
        }
        self.stats = RequestStats()
        self.options: PloomesOptions | None = None
        self.key_empty = False
        self._session: Session | None = None
        self._limiter: RateLimiter | None = None

    # --- the connection --------------------------------------------------------------------

    def get_conn(
        self, headers: dict[Any, Any] | None = None, extra_options: dict[str, Any] | None = None
    ) -> Session:
        """A requests Session for the API: base URL from host, ``User-Key`` from password, options
        from a copy of the extras (HttpHook's own extras such as ``verify`` or ``trust_env`` work)."""
        session = super().get_conn(headers, extra_options)
        options = self._require_options()
        self._limiter = shared_limiter((self.base_url, self.ploomes_conn_id), options.requests_per_minute)
        return session

    def _require_options(self) -> PloomesOptions:
        if self.options is None:
            raise RuntimeError("The Ploomes options are resolved by get_conn(); it has not run yet")
        return self.options

    def _set_base_url(self, connection: Any) -> None:
        """Base URL as HttpHook sets it, then the Ploomes options of the same connection."""
        super()._set_base_url(connection)
        self.options = self._resolve_options(dict(connection.extra_dejson))

    def _configure_session_from_auth(self, session: Session, connection: Any) -> Session:
        """The key goes in the ``User-Key`` header (no basic auth). An empty key is still sent."""
        key = (connection.password or "").strip()
        if not key.isprintable():
            raise PloomesError(
                f"The password (User-Key) of connection {self.ploomes_conn_id!r} contains line breaks "
                "or control characters: it cannot be sent as a header. Paste the key again."
            )
        self.key_empty = not key
        if self.key_empty:
            self.log.warning(
                "Connection %s has an empty password: the User-Key sent will be empty", self.ploomes_conn_id
            )
        session.auth = None
        session.headers[settings.USER_KEY_HEADER] = key
        session.headers["Accept"] = "application/json"
        return session

    def _configure_session_from_extra(
        self, session: Session, connection: Any, extra_options: dict[str, Any]
    ) -> Session:
        """HttpHook's handling of the extras, minus the Ploomes options (not headers)."""
        return super()._configure_session_from_extra(session, _HttpExtras(connection), extra_options)

    def _resolve_options(self, extra: dict[str, Any]) -> PloomesOptions:
        """Arguments, else extras (plain or ``extra__ploomes__`` names), else defaults; validated."""
        values: dict[str, Any] = {}
        for name in OPTION_NAMES:
            raw = self._overrides[name]
            origin = f"argument {name!r}"
            if raw is None:
                raw = extra.get(name, extra.get(f"extra__ploomes__{name}"))
                origin = f"extra {name!r} of connection {self.ploomes_conn_id!r}"
            if raw is None or raw == "":
                continue
            values[name] = _number(raw, int if name in _INTEGER_OPTIONS else float, origin)
            if values[name] < 0 or (name in _POSITIVE_OPTIONS and values[name] == 0):
                raise ValueError(f"{origin} must be {'positive' if name in _POSITIVE_OPTIONS else '>= 0'}")
        if values.get("page_size", 0) > settings.MAX_PAGE_SIZE:
            self.log.warning(
                "page_size %s is above the API's maximum: using %s",
                values["page_size"],
                settings.MAX_PAGE_SIZE,
            )
            values["page_size"] = settings.MAX_PAGE_SIZE
        return PloomesOptions(**values)

    @property
    def session(self) -> Session:
        """The hook's session, created (and the connection read) on first use."""
        if self._session is None:
            self._session = self.get_conn()
        return self._session

    def _ready(self) -> tuple[Session, PloomesOptions, RateLimiter]:
        """Session, options and limiter, reading the connection first if needed."""
        session = self.session
        if self._limiter is None:
            raise RuntimeError("The rate limiter is set by get_conn(); it has not run yet")
        return session, self._require_options(), self._limiter

    def close(self) -> None:
        """Close the session's connections; the next request opens a new session."""
        if self._session is not None:
            self._session.close()
            self._session = None

    def test_connection(self) -> tuple[bool, str]:
        """The UI's "Test" button: the preflight request."""
        try:
            self.preflight()
        except (PloomesError, ValueError) as exc:  # ValueError: an invalid extra
            return False, str(exc)
        return True, f"Ploomes accepted the key ({self.base_url})."

    # --- one request, in stages ------------------------------------------------------------

    def build_params(
        self, *, select: str | Sequence[str] | None = None, expand: str | Sequence[str] | None = None
    ) -> dict[str, str]:
        """Query options of a list read: ``$select`` (with Id added) and ``$expand``."""
        params: dict[str, str] = {}
        columns = select_with_key(select)
        if columns:
            params["$select"] = ",".join(columns)
        if expand:
            params["$expand"] = expand if isinstance(expand, str) else ",".join(expand)
        return params

    def prepare_request(self, endpoint: str, params: Mapping[str, str]) -> PreparedRequest:
        """The GET of ``endpoint`` with ``params``, ready to send."""
        session = self.session
        request = Request("GET", self.url_from_endpoint(endpoint.lstrip("/")), params=dict(params))
        return session.prepare_request(request)

    def send(self, prepared: PreparedRequest) -> Response:
        """Wait for the rate limiter, then send once (no retry here)."""
        session, options, limiter = self._ready()
        self.stats.limiter_wait_seconds += limiter.acquire()
        self.stats.requests += 1
        self.log.debug("GET %s", readable_url(prepared.url))
        environment = session.merge_environment_settings(
            prepared.url, proxies=session.proxies, stream=False, verify=session.verify, cert=session.cert
        )
        return session.send(prepared, timeout=options.timeout, allow_redirects=True, **environment)

    def check_response(self, response: Response) -> None:
        """Raise the error that fits a non-2xx status (see ``ploomes_sync.api.errors``)."""
        status = response.status_code
        if 200 <= status < 300:
            return
        url = readable_url(response.request.url if response.request else response.url)
        message = self._server_message(response)
        if status in (401, 403):
            self.log.error("Ploomes answered %s to GET %s: the User-Key was rejected", status, url)
            raise PloomesAuthError(
                status, url, key_empty=self.key_empty, server_message=message, conn_id=self.ploomes_conn_id
            )
        if status == 429:
            self.stats.throttled += 1
            raise PloomesThrottledError(url, retry.parse_retry_after(response.headers.get("Retry-After")))
        if status >= 500:
            raise PloomesServerError(status, url, message)
        self.log.error("Ploomes answered %s to GET %s: %s", status, url, message or "(no message)")
        raise PloomesBadRequestError(status, url, message)

    def parse_payload(self, response: Response) -> dict[str, Any]:
        """The JSON object of a 2xx answer; it must hold a ``value`` list."""
        url = readable_url(response.request.url if response.request else response.url)
        try:
            payload = json.loads(response.content)
        except ValueError as exc:
            reason = f"not JSON ({exc.__class__.__name__}: {exc}; {len(response.content)} bytes)"
            raise PloomesInvalidResponseError(response.status_code, url, reason) from exc
        if not isinstance(payload, dict) or not isinstance(payload.get("value"), list):
            got = f"keys {sorted(payload)[:10]}" if isinstance(payload, dict) else type(payload).__name__
            reason = f"expected a JSON object with a 'value' list, got {got}"
            raise PloomesInvalidResponseError(response.status_code, url, reason)
        return payload

    def _server_message(self, response: Response) -> str | None:
        """The error body's message, with the key blanked out should the server echo it."""
        message = server_message(response.content)
        key = self.session.headers.get(settings.USER_KEY_HEADER)
        if message and key and key in message:
            message = message.replace(key, REDACTED)
        return message

    def _attempt(self, prepared: PreparedRequest) -> dict[str, Any]:
        response = self.send(prepared)
        self.check_response(response)
        return self.parse_payload(response)

    # --- retries ---------------------------------------------------------------------------

    def retry_policy(self) -> dict[str, Any]:
        """The tenacity pieces of one request (override to change the policy)."""
        options = self._require_options()
        return {
            "retry": retry.retry_if_transient,
            "wait": retry.wait_retry_after(retry.wait_backoff(options.backoff_base, options.backoff_max)),
            "stop": retry.stop_after_failures(options.max_attempts)
            | retry.stop_after_throttle_wait(options.max_throttle_wait),
            "before_sleep": self._before_retry_sleep,
        }

    def fetch(self, endpoint: str, params: Mapping[str, str]) -> dict[str, Any]:
        """GET ``endpoint`` (rate-limited, retried per :meth:`retry_policy`); the JSON object."""
        prepared = self.prepare_request(endpoint, params)
        give_up = functools.partial(self._give_up, readable_url(prepared.url))
        retrying = tenacity.Retrying(**{"retry_error_callback": give_up, **self.retry_policy()})
        return retrying(self._attempt, prepared)

    def _before_retry_sleep(self, retry_state: tenacity.RetryCallState) -> None:
        exc = retry_state.outcome.exception() if retry_state.outcome else None
        wait = retry_state.upcoming_sleep
        self.stats.retries += 1
        self.stats.backoff_wait_seconds += wait
        url = readable_url(retry_state.args[0].url) if retry_state.args else "?"
        if isinstance(exc, PloomesThrottledError):
            self.log.warning(
                "Throttled by Ploomes (429, %s): waiting %.2f s before attempt %s of GET %s",
                f"Retry-After {exc.retry_after:g} s" if exc.retry_after is not None else "no Retry-After",
                wait,
                retry_state.attempt_number + 1,
                url,
            )
        else:
            self.log.warning(
                "Attempt %s of GET %s failed (%s); retrying in %.2f s",
                retry_state.attempt_number,
                url,
                _describe(exc, self.options),
                wait,
            )

    def _give_up(self, url: str, retry_state: tenacity.RetryCallState) -> NoReturn:
        """Turn the last failure into a PloomesRequestError (retries or the throttle budget ran out)."""
        exc = retry_state.outcome.exception() if retry_state.outcome else None
        cause = _describe(exc, self.options)
        if isinstance(exc, PloomesThrottledError) and self.options is not None:
            cause += (
                f"; waiting it out would take this request's time spent on 429s past max_throttle_wait "
                f"({self.options.max_throttle_wait:g} s; {retry.throttle_wait(retry_state):.1f} s spent)"
            )
        error = PloomesRequestError(
            url,
            retry_state.attempt_number,
            cause,
            status=getattr(exc, "status", None),
            throttled=retry.throttled(retry_state),
        )
        self.log.error("%s", error)
        raise error from exc

    # --- the public API --------------------------------------------------------------------

    def preflight(self) -> None:
        """Check the key cheaply (``GET /Account?$top=1&$select=Id``) before any real work."""
        self.fetch(settings.PREFLIGHT_ENDPOINT, {"$top": "1", "$select": "Id"})
        self.log.info("Ploomes accepted the key of connection %s (%s)", self.ploomes_conn_id, self.base_url)

    def iter_pages(
        self,
        endpoint: str,
        *,
        filter: str | None = None,
        select: str | Sequence[str] | None = None,
        expand: str | Sequence[str] | None = None,
    ) -> Iterator[Page]:
        """Every record of ``endpoint`` matching ``filter``, page by page (keyset paging on Id).

        ``select`` gets ``Id`` added when missing. Nothing is requested until the first page is
        asked for. While the caller works on a page, the next one is already being read (its
        filter needs only the page's last Id), so at most two pages are held at a time.
        """
        _, options, _ = self._ready()  # the connection's options decide the page size
        paginator = KeysetPaginator(page_size=options.page_size, base_filter=filter)
        params = self.build_params(select=select, expand=expand)
        paginator.init_request(params)
        name = endpoint.strip("/")
        first_answer_at: float | None = None
        requests_before, throttled_before = self.stats.requests, self.stats.throttled
        total = 0
        reader = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"ploomes-{name}-read-ahead")
        try:
            pending = reader.submit(self.fetch, name, dict(params))
            while True:
                records = pending.result()["value"]  # re-raises what the read raised
                paginator.update_state(records)
                if not paginator.has_next_page:
                    break
                paginator.update_request(params)
                pending = reader.submit(self.fetch, name, dict(params))  # read ahead
                total += len(records)
                self.stats.pages += 1
                self.stats.records += len(records)
                sent = self.stats.requests - requests_before
                now = time.monotonic()
                if first_answer_at is None:
                    first_answer_at = now
                # The rate over the requests answered since the first one: one request has none yet.
                rate = f"{(sent - 1) * 60.0 / max(now - first_answer_at, 1e-6):.0f}/min" if sent > 1 else "rate n/a"
                self.log.info(
                    "%s page %s: %s records, %s so far; %s requests (%s), %s throttled (429)",
                    name,
                    paginator.pages,
                    len(records),
                    total,
                    sent,
                    rate,
                    self.stats.throttled - throttled_before,
                )
                yield Page(paginator.pages, records, paginator.last_key or 0)
                del records  # keep nothing of a page the caller has moved past
        finally:
            # A caller that stops early leaves at most one read in flight; nothing waits for it.
            reader.shutdown(wait=False, cancel_futures=True)
        self.log.info(
            "%s: read %s records in %s pages with %s requests (%s throttled)",
            name,
            total,
            paginator.pages,
            self.stats.requests - requests_before,
            self.stats.throttled - throttled_before,
        )

    def iter_records(
        self,
        endpoint: str,
        *,
        filter: str | None = None,
        select: str | Sequence[str] | None = None,
        expand: str | Sequence[str] | None = None,
    ) -> Iterator[dict[str, Any]]:
        """The records of :meth:`iter_pages`, one by one."""
        for page in self.iter_pages(endpoint, filter=filter, select=select, expand=expand):
            yield from page.records

    def count(self, endpoint: str, filter: str | None = None) -> int | None:
        """``@odata.count`` of ``endpoint`` matching ``filter``; None when the API does not answer it."""
        params = {"$count": "true", "$top": "1", "$select": "Id"}
        if filter:
            params["$filter"] = filter
        value = self.fetch(endpoint.strip("/"), params).get("@odata.count")
        if type(value) is int:
            return value
        if isinstance(value, str) and value.strip().isdigit():  # IEEE754Compatible servers send strings
            return int(value)
        self.log.info("Ploomes did not answer @odata.count for %s", endpoint)
        return None


def _number(raw: Any, kind: type, origin: str) -> Any:
    """``raw`` as an int or a float; ValueError naming where it came from."""
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


def _describe(exc: BaseException | None, options: PloomesOptions | None) -> str:
    """What went wrong with one attempt, in a few words."""
    if exc is None:
        return "no exception"
    if isinstance(exc, PloomesServerError):
        return f"status {exc.status}" + (f" ({exc.server_message})" if exc.server_message else "")
    if isinstance(exc, PloomesThrottledError):
        asked = f"Retry-After {exc.retry_after:g} s" if exc.retry_after is not None else "no Retry-After"
        return f"status 429 Too Many Requests ({asked})"
    if isinstance(exc, PloomesInvalidResponseError):
        return f"status {exc.status} with an invalid body: {exc.reason}"
    if isinstance(exc, requests.Timeout):
        limit = f" of {options.timeout:g} s" if options is not None else ""
        return f"timeout{limit} ({exc.__class__.__name__}: {exc})"
    if isinstance(exc, requests.ConnectionError):
        return f"connection failed or dropped ({exc.__class__.__name__}: {exc})"
    return f"{exc.__class__.__name__}: {exc}"

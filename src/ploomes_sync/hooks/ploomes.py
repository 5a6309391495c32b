"""PloomesHook: the Ploomes public API, read with keyset paging, a rate limit and bounded retries.

Connection ``ploomes_default`` (type ``ploomes``): host = base URL (``https://public-api2.ploomes.com``
when empty), password = the User-Key, extras = options (:class:`~ploomes_sync.api.options.PloomesOptions`,
checked against the connection form's schema). Arguments given to the constructor win over the extras.

    hook = PloomesHook()
    hook.check_key()                           # GET /Account?$top=1&$select=Id: is the key good?
    for page in hook.iter_pages("Deals", filter="StatusId eq 2", select=["Id", "Amount"]):
        load(page.records)                     # pages stream; memory stays flat
    hook.count("Deals")                        # @odata.count, or None when the API won't say
    hook.stats                                 # requests, pages, records, 429s, retries, waits

A ``BaseHook`` with a ``requests.Session`` of its own, not the http provider's ``HttpHook``, which
sends every connection extra it does not know as a request header. A request goes through small
stages (:meth:`build_request`, :meth:`send`, :meth:`check_response`, :meth:`parse_payload`) under the
retry policy of :mod:`ploomes_sync.api.retry`; the read itself is :mod:`ploomes_sync.api.reader`.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import replace
from typing import Any

from airflow.sdk import BaseHook
from requests import PreparedRequest, Request, Response, Session
from requests.adapters import HTTPAdapter

from ploomes_sync import settings
from ploomes_sync.api import retry
from ploomes_sync.api.errors import (
    PloomesAuthError,
    PloomesError,
    PloomesInvalidResponseError,
    PloomesRequestError,
    PloomesServerError,
    PloomesThrottledError,
    error_for_status,
    readable_url,
    server_message,
    timed_out,
)
from ploomes_sync.api.options import OPTION_NAMES, PloomesOptions, base_url
from ploomes_sync.api.paging import select_with_key
from ploomes_sync.api.ratelimit import Limiter, Paced, shared_limiter
from ploomes_sync.api.reader import Page, PageReader, ReadCancelled, ReadClock, odata_count
from ploomes_sync.api.stats import RequestStats

__all__ = ["Page", "PloomesHook", "PloomesOptions", "ReadClock", "RequestStats"]

LimiterFactory = Callable[[str, float], Limiter]  # (the account's base URL, requests a minute) -> its limiter


class PloomesHook(BaseHook):
    """Reads Ploomes lists with keyset paging, a rate limit and bounded retries.

    - Paging: ``$orderby=Id`` and ``Id gt <last>``. Large reads are cut into Id ranges read side by
      side (``max_in_flight``), so latency does not set the pace.
    - 401/403: :class:`PloomesAuthError` (an ``AirflowFailException``: no task retry) naming the
      likely causes. Other 4xx: :class:`PloomesBadRequestError`, no retry.
    - 429: waits ``Retry-After`` (or backs off) up to ``max_throttle_wait`` seconds in all, and
      holds every other request of the limiter back as long. 5xx, timeouts, dropped connections,
      invalid JSON: up to ``max_attempts`` attempts, then :class:`PloomesRequestError`.
    - Rate: every request waits for ``limiter`` (by default one per process and account at
      ``requests_per_minute``; the DAG's tasks pass the account-wide budget kept in the warehouse).

    ``__init__`` only stores arguments: the connection is read on first use.
    """

    conn_name_attr = "ploomes_conn_id"
    default_conn_name = settings.PLOOMES_CONN_ID
    conn_type = "ploomes"
    hook_name = "Ploomes"

    def __init__(self, ploomes_conn_id: str = default_conn_name, *, limiter: LimiterFactory | None = None,
                 **options: Any) -> None:
        super().__init__()
        unknown = set(options) - set(OPTION_NAMES)
        if unknown:
            raise TypeError(f"Unknown PloomesHook options {sorted(unknown)}; known: {list(OPTION_NAMES)}")
        self.ploomes_conn_id = ploomes_conn_id
        self._overrides = options
        self._make_limiter = limiter or shared_limiter
        self._limiter: Limiter | None = None
        self.stats = RequestStats()
        self.options: PloomesOptions | None = None
        self.base_url = ""
        self.key_empty = False
        self._session: Session | None = None
        self._lock = threading.Lock()

    # --- the connection --------------------------------------------------------------------

    def get_conn(self) -> Session:
        """A requests Session for the API: base URL from host, ``User-Key`` from password, options
        from a copy of the extras."""
        connection = self.get_connection(self.ploomes_conn_id)
        extra = dict(connection.extra_dejson)
        self.options = PloomesOptions.resolve(self._overrides, extra, self.ploomes_conn_id)
        self.base_url = base_url(connection.host, connection.schema, connection.port)
        key = (connection.password or "").strip()
        if not key.isprintable():
            raise PloomesError(
                f"The password (User-Key) of connection {self.ploomes_conn_id!r} contains line breaks "
                "or control characters: it cannot be sent as a header. Paste the key again."
            )
        self.key_empty = not key
        if self.key_empty:
            self.log.warning("Connection %s has an empty password: the User-Key sent will be empty",
                             self.ploomes_conn_id)
        session = Session()
        session.headers[settings.USER_KEY_HEADER] = key
        session.headers["Accept"] = "application/json"
        session.verify = self.options.verify
        session.trust_env = self.options.trust_env
        adapter = HTTPAdapter(pool_connections=1, pool_maxsize=self.options.max_in_flight + 2)
        session.mount("https://", adapter)
        session.mount("http://", adapter)
        if self._limiter is None:  # requests_per_minute: connection -> options -> this one limiter
            self._limiter = self._make_limiter(self.base_url, self.options.requests_per_minute)
        return session

    @property
    def session(self) -> Session:
        """The hook's session, created (and the connection read) on first use."""
        with self._lock:
            if self._session is None:
                self._session = self.get_conn()
            return self._session

    @property
    def limiter(self) -> Limiter:
        """What every request waits for (known once the connection has been read)."""
        self.session  # noqa: B018 (reads the connection)
        assert self._limiter is not None
        return self._limiter

    def paced(self, share: float) -> PloomesHook:
        """A hook on the same connection whose requests spend at most ``share`` of this one's budget
        (this hook is left as it is; both count into the same :attr:`stats`)."""
        budget = self.limiter  # reads the connection
        sibling = object.__new__(type(self))  # the same connection, session, counters and (a subclass's) state
        sibling.__dict__.update(self.__dict__, _limiter=Paced(budget, share))
        return sibling

    @property
    def page_size(self) -> int:
        """Records asked per request (the connection is read on first use)."""
        return self._options().page_size

    def _options(self) -> PloomesOptions:
        self.session  # noqa: B018 (reads the connection)
        assert self.options is not None
        return self.options

    def close(self) -> None:
        """Close the session's connections and the limiter's (a budget kept in the warehouse holds
        one); the next request opens them anew."""
        with self._lock:
            if self._session is not None:
                self._session.close()
                self._session = None
            close_limiter = getattr(self._limiter, "close", None)
            self._limiter = None
        if close_limiter is not None:
            close_limiter()

    def test_connection(self) -> tuple[bool, str]:
        """The UI's "Test" button: the key check."""
        try:
            self.check_key()
        except (PloomesError, ValueError) as exc:  # ValueError: an invalid extra
            return False, str(exc)
        return True, f"Ploomes accepted the key ({self.base_url})."

    # --- one request, in stages ------------------------------------------------------------

    def build_request(self, endpoint: str, params: Mapping[str, str], *, method: str = "GET",
                      body: Mapping[str, Any] | None = None) -> PreparedRequest:
        """The ``method`` (GET unless said) of ``endpoint`` (relative to the base URL) with ``params`` and a
        JSON ``body``, ready to send."""
        session = self.session  # first: building the session reads the connection, base_url with it
        url = f"{self.base_url}/{endpoint.strip('/')}"
        json_body = dict(body) if body is not None else None
        return session.prepare_request(Request(method, url, params=dict(params), json=json_body))

    def send(self, prepared: PreparedRequest, cancel: threading.Event | None = None) -> Response:
        """Wait for the limiter, then send once (no retry here)."""
        session, options = self.session, self._options()
        self.stats.add(limiter_wait_seconds=self.limiter.acquire(cancel))
        if cancel is not None and cancel.is_set():
            raise ReadCancelled("read cancelled")
        self.stats.add(requests=1)
        self.log.debug("%s %s", prepared.method, readable_url(prepared.url))
        environment = session.merge_environment_settings(
            prepared.url, proxies={}, stream=False, verify=session.verify, cert=None
        )
        return session.send(prepared, timeout=options.timeout, allow_redirects=True, **environment)

    def check_response(self, response: Response) -> None:
        """Raise the error that fits a non-2xx status (see ``ploomes_sync.api.errors``)."""
        status = response.status_code
        self.stats.answered(response.elapsed)
        if 200 <= status < 300:
            return
        url = readable_url(response.request.url if response.request else response.url)
        method = (response.request.method if response.request else None) or "GET"
        retry_after = retry.parse_retry_after(response.headers.get("Retry-After")) if status == 429 else None
        message = server_message(response.content, secret=self.session.headers.get(settings.USER_KEY_HEADER))
        error = error_for_status(status, url, method=method, message=message, retry_after=retry_after,
                                 key_empty=self.key_empty, conn_id=self.ploomes_conn_id)
        if isinstance(error, PloomesThrottledError):
            self.stats.add(throttled=1)
        elif not isinstance(error, PloomesServerError):  # 5xx and 429 are retried and logged as such
            self.log.error("Ploomes answered %s to %s %s: %s", status, method, url,
                           "the User-Key was rejected" if isinstance(error, PloomesAuthError)
                           else message or "(no message)")
        raise error

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
            raise PloomesInvalidResponseError(response.status_code, url,
                                              f"expected a JSON object with a 'value' list, got {got}")
        return payload

    def _attempt(self, prepared: PreparedRequest, cancel: threading.Event | None,
                 clock: ReadClock | None) -> dict[str, Any]:
        response = self.send(prepared, cancel)
        self.check_response(response)
        payload = self.parse_payload(response)
        date = retry.http_date(response.headers.get("Date"))
        if clock is not None and date is not None:
            clock.answered(date, response.elapsed)
        return payload

    def fetch(self, endpoint: str, params: Mapping[str, str], cancel: threading.Event | None = None,
              clock: ReadClock | None = None, max_attempts: int | None = None) -> dict[str, Any]:
        """GET ``endpoint`` (rate-limited, retried per :func:`retry.retrying`, at most ``max_attempts``
        times when given); the JSON object. Each answer's Date goes to ``clock`` (the sync's)."""
        prepared = self.build_request(endpoint, params)
        options = self._options()
        if max_attempts is not None:
            options = replace(options, max_attempts=min(max_attempts, options.max_attempts))
        retrying = retry.retrying(options, prepared.method or "GET", readable_url(prepared.url),
                                  stats=self.stats, limiter=self.limiter, log=self.log, cancel=cancel)
        return retrying(self._attempt, prepared, cancel, clock)

    # --- the public API --------------------------------------------------------------------

    def check_key(self) -> None:
        """Check the key cheaply (``GET /Account?$top=1&$select=Id``) before any real work."""
        self.fetch(settings.KEY_CHECK_ENDPOINT, {"$top": "1", "$select": "Id"})
        self.log.info("Ploomes accepted the key of connection %s (%s)", self.ploomes_conn_id, self.base_url)

    def iter_pages(
        self,
        endpoint: str,
        *,
        filter: str | None = None,
        select: str | Sequence[str] | None = None,
        expand: str | Sequence[str] | None = None,
        after: int | None = None,
        upto: int | None = None,
        max_in_flight: int | None = None,
        clock: ReadClock | None = None,
        heavy: bool = False,
    ) -> Iterator[Page]:
        """Every record of ``endpoint`` matching ``filter`` (with Id in ``(after, upto]``), page by page.

        ``select`` gets ``Id`` added when missing. Nothing is requested until the first page is
        asked for. A large read goes on in Id ranges side by side, as many as the rate needs at the
        latency the first page took. Pages arrive in the order they are read, not in Id order. The
        answers' Dates go to ``clock``. A ``heavy`` read (each record's lines expanded) asks for
        ``expanded_page_size`` records a page, and for half as many after a page that timed out twice
        (a 5xx, or our timeout), down to ``MIN_EXPANDED_PAGE_SIZE``; other failures keep their retries.
        """
        options = self._options()
        params: dict[str, str] = {}
        columns = select_with_key(select)
        if columns:
            params["$select"] = ",".join(columns)
        if expand:
            params["$expand"] = expand if isinstance(expand, str) else ",".join(expand)
        name = endpoint.strip("/")
        floor = settings.MIN_EXPANDED_PAGE_SIZE if heavy else None

        def get(query: Mapping[str, str], cancel: threading.Event) -> dict[str, Any]:
            if floor is None or int(query.get("$top", "0")) <= floor:
                return self.fetch(name, query, cancel, clock)
            try:  # a heavy page: two attempts, then the reader asks for smaller pages if it timed out
                return self.fetch(name, query, cancel, clock, max_attempts=2)
            except PloomesRequestError as exc:
                left = options.max_attempts - exc.attempts
                if timed_out(exc) or left < 1:
                    raise
                return self.fetch(name, query, cancel, clock, max_attempts=left)  # any other failure: its retries

        reader = PageReader(
            get, params=params, page_size=options.expanded_page_size if heavy else options.page_size,
            min_page_size=floor, base_filter=filter, after=after, upto=upto,
            max_in_flight=max_in_flight or options.max_in_flight, interval=60.0 / options.requests_per_minute,
            latency=lambda: self.stats.last_latency_seconds,
        )
        requests_before, throttled_before, total, pages = self.stats.requests, self.stats.throttled, 0, 0
        for page in reader:
            total += len(page.records)
            pages += 1
            self.stats.add(pages=1, records=len(page.records))
            if page.number % 10 == 1 or reader.count is not None and total >= reader.count:
                self.log.info("%s: page %s, %s records so far%s; %s requests, %s throttled (429)", name,
                              page.number, total, f" of {reader.count}" if reader.count is not None else "",
                              self.stats.requests - requests_before, self.stats.throttled - throttled_before)
            yield page
        self.log.info("%s: read %s records in %s pages from %s Id ranges with %s requests (%s throttled)",
                      name, total, pages, reader.ranges, self.stats.requests - requests_before,
                      self.stats.throttled - throttled_before)

    def write(self, method: str, endpoint: str, body: Mapping[str, Any] | None = None) -> Any:
        """``method`` (POST, PATCH, DELETE) ``endpoint`` with a JSON ``body``, once: rate-limited but never
        retried, since a write that timed out may have been done. The JSON answer (None when empty)."""
        prepared = self.build_request(endpoint, {}, method=method, body=body)
        response = self.send(prepared)
        self.check_response(response)
        if not response.content.strip():
            return None
        try:
            return json.loads(response.content)
        except ValueError as exc:
            raise PloomesInvalidResponseError(response.status_code, readable_url(prepared.url), "not JSON",
                                              method=prepared.method or method) from exc

    def count(self, endpoint: str, filter: str | None = None, clock: ReadClock | None = None) -> int | None:
        """``@odata.count`` of ``endpoint`` matching ``filter``; None when the API does not answer it."""
        params = {"$count": "true", "$top": "1", "$select": "Id"}
        if filter:
            params["$filter"] = filter
        value = odata_count(self.fetch(endpoint.strip("/"), params, clock=clock))
        if value is None:
            self.log.info("Ploomes did not answer @odata.count for %s", endpoint)
        return value

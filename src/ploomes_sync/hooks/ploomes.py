"""PloomesHook: the Ploomes public API over one ``requests`` session, with a rate limit and bounded retries.

Connection ``ploomes_default`` (type ``ploomes``): host = base URL (Ploomes' own when empty), password
= the User-Key, extras = :class:`~ploomes_sync.api.options.PloomesOptions` (checked against the
connection form's schema; constructor arguments win). A ``BaseHook`` with a session of its own, not
the http provider's ``HttpHook``, which sends every extra it does not know as a request header.

    hook = PloomesHook()
    hook.check_key()                                   # GET /Account?$top=1&$select=Id
    for records in hook.paginate("Deals", filter="StatusId eq 2", select=["Id", "Amount"]):
        load(records)                                  # keyset pages, in Id order, a request at a time
    hook.count("Deals")                                # @odata.count, or None when the API won't say

A large read keeps several requests in flight: :func:`ploomes_sync.api.reader.read_pages`.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import replace
from typing import Any
from urllib.parse import urljoin

import requests
from airflow.sdk import BaseHook
from requests import PreparedRequest, Request, Response, Session
from requests.adapters import HTTPAdapter

from ploomes_sync import settings
from ploomes_sync.api import retry
from ploomes_sync.api.errors import (
    PloomesAnswerTooLarge,
    PloomesAuthError,
    PloomesEndpointForbidden,
    PloomesError,
    PloomesInvalidResponseError,
    PloomesRedirectError,
    PloomesServerError,
    PloomesThrottledError,
    ReadCancelled,
    error_for_status,
    readable_url,
    server_message,
)
from ploomes_sync.api.options import OPTION_NAMES, PloomesOptions, base_url, check_scheme, endpoint_of, origin
from ploomes_sync.api.paging import KeysetPaginator, query_options
from ploomes_sync.api.ratelimit import Limiter, Paced, shared_limiter
from ploomes_sync.api.reader import ReadClock, odata_count
from ploomes_sync.api.stats import RequestStats
from ploomes_sync.connections import airflow_connection

__all__ = ["PloomesHook", "PloomesOptions", "ReadClock", "RequestStats"]

LimiterFactory = Callable[[str, float], Limiter]  # (the account's base URL, requests a minute) -> its limiter


class PloomesHook(BaseHook):
    """Talks to the Ploomes API: a request in stages (:meth:`build_request`, :meth:`send`,
    :meth:`check_response`, :meth:`parse_payload`) under :mod:`ploomes_sync.api.retry`'s policy.

    401/403 fail at once (:class:`PloomesAuthError`, no task retry) naming the likely causes; a 403
    on one endpoint while the key check answers, or a 404 on a list, is that endpoint's
    (:class:`PloomesEndpointForbidden`); other 4xx fail at once too; 429s wait ``Retry-After``
    (holding the whole limiter back), 5xx, timeouts and bad JSON are retried, then
    :class:`PloomesRequestError`. Every request waits for the limiter ``limiter``
    makes of the base URL and ``requests_per_minute`` (by default one per process and account; the
    DAG's tasks pass the account's budget kept in the warehouse). ``__init__`` only stores arguments.
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
        self._options: PloomesOptions | None = None
        self._session: Session | None = None
        self._lock = threading.Lock()
        self.stats = RequestStats()
        self.base_url = ""
        self.key_empty = False
        self._rejected: PloomesAuthError | None = None  # the key was refused: no request leaves with it again
        self._forbidden: dict[str, PloomesEndpointForbidden] = {}  # endpoints refused while the key works

    # --- the connection --------------------------------------------------------------------

    def get_conn(self) -> Session:
        """A requests Session for the API: base URL from host, ``User-Key`` from password, options
        from the extras."""
        connection = airflow_connection(self.ploomes_conn_id, "the Ploomes API, type ploomes")
        self._options = PloomesOptions.resolve(self._overrides, dict(connection.extra_dejson), self.ploomes_conn_id)
        self.base_url = base_url(connection.host, connection.schema, connection.port)
        check_scheme(self.base_url, allow_http=self._options.allow_http, conn_id=self.ploomes_conn_id)
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
        session.headers.update({settings.USER_KEY_HEADER: key, "Accept": "application/json"})
        session.verify, session.trust_env = self._options.verify, self._options.trust_env
        adapter = HTTPAdapter(pool_connections=1, pool_maxsize=self._options.max_in_flight + 2)
        session.mount("https://", adapter)
        session.mount("http://", adapter)
        if self._limiter is None:  # requests_per_minute: connection -> options -> this one limiter
            self._limiter = self._make_limiter(self.base_url, self._options.requests_per_minute)
        return session

    @property
    def session(self) -> Session:
        """The hook's session, created (and the connection read) on first use."""
        with self._lock:
            if self._session is None:
                self._session = self.get_conn()
            return self._session

    @property
    def options(self) -> PloomesOptions:
        """The options in force (the connection is read on first use)."""
        self.session  # noqa: B018 (reads the connection)
        assert self._options is not None
        return self._options

    @property
    def limiter(self) -> Limiter:
        """What every request waits for (the connection is read on first use)."""
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
        """The ``method`` of ``endpoint`` (relative to the base URL) with ``params`` and a JSON ``body``."""
        session = self.session  # first: building the session reads the connection, base_url with it
        url = f"{self.base_url}/{endpoint.strip('/')}"
        return session.prepare_request(Request(method, url, params=dict(params),
                                               json=dict(body) if body is not None else None))

    def send(self, prepared: PreparedRequest, cancel: threading.Event | None = None) -> Response:
        """Wait for the limiter, then send once (no retry here), the answer read whole within bounds
        (:meth:`receive`). A redirect is followed only to the same scheme, host and port, a GET only
        (each hop another request): the key goes nowhere the connection does not name."""
        for hop in range(settings.MAX_SAME_ORIGIN_REDIRECTS + 1):
            response = self._send_once(prepared, cancel)
            if not response.is_redirect:
                return response
            location = urljoin(prepared.url or "", response.headers["Location"])
            url, method = readable_url(prepared.url), prepared.method or "GET"
            if origin(location) != origin(prepared.url or "") or method != "GET":
                raise PloomesRedirectError(response.status_code, url, readable_url(location), method=method,
                                           conn_id=self.ploomes_conn_id, reason="another scheme, host or port"
                                           if method == "GET" else f"a {method} is never redirected")
            if hop == settings.MAX_SAME_ORIGIN_REDIRECTS:
                raise PloomesRedirectError(response.status_code, url, readable_url(location), method=method,
                                           conn_id=self.ploomes_conn_id, reason="too many redirects")
            self.log.info("Ploomes redirected %s to %s (the same host): following", url, readable_url(location))
            prepared = prepared.copy()
            prepared.url = location
        raise AssertionError("unreachable")

    def _send_once(self, prepared: PreparedRequest, cancel: threading.Event | None) -> Response:
        session = self.session
        self.stats.add(limiter_wait_seconds=self.limiter.acquire(cancel))
        if cancel is not None and cancel.is_set():
            raise ReadCancelled("read cancelled")
        if self._rejected is not None:
            raise self._rejected
        forbidden = self._forbidden.get(endpoint_of(prepared.url or "", self.base_url))
        if forbidden is not None:
            raise forbidden
        self.stats.add(requests=1)
        self.log.debug("%s %s", prepared.method, readable_url(prepared.url))
        environment = session.merge_environment_settings(prepared.url, proxies={}, stream=True,
                                                         verify=session.verify, cert=None)
        deadline = time.monotonic() + self.options.timeout
        response = session.send(prepared, timeout=self.options.timeout, allow_redirects=False, **environment)
        try:
            self.receive(response, deadline)
        finally:
            response.close()
        return response

    def receive(self, response: Response, deadline: float) -> None:
        """Read the answer's body by ``deadline`` (the whole answer within ``timeout``, however slowly
        the server sends it) and within ``max_answer_bytes``; a 2xx past either raises, the body of
        an error answer is cut at the size."""
        limit = self.options.max_answer_bytes
        success = 200 <= response.status_code < 300
        url = readable_url(response.request.url if response.request else response.url)
        method = (response.request.method if response.request else None) or "GET"
        declared = response.headers.get("Content-Length", "")
        if success and declared.isdigit() and int(declared) > limit:
            raise PloomesAnswerTooLarge(response.status_code, url, limit, method=method)
        body = bytearray()
        while True:
            chunk = response.raw.read1(65536, decode_content=True)
            if not chunk:
                break
            body += chunk
            if len(body) > limit:
                if success:
                    raise PloomesAnswerTooLarge(response.status_code, url, limit, method=method)
                del body[limit:]
                break
            if time.monotonic() > deadline:
                raise requests.exceptions.ReadTimeout(
                    f"the answer to {method} {url} was not whole within {self.options.timeout:g} s "
                    f"({len(body)} bytes came)")
        response._content = bytes(body)  # what response.content gives from now on
        response._content_consumed = True

    def check_response(self, response: Response) -> None:
        """Raise the error that fits a non-2xx status (see ``ploomes_sync.api.errors``)."""
        status = response.status_code
        self.stats.answered(response.elapsed)
        if 200 <= status < 300:
            return
        url = readable_url(response.request.url if response.request else response.url)
        method = (response.request.method if response.request else None) or "GET"
        retry_after = retry.parse_retry_after(response.headers.get("Retry-After")) if status == 429 else None
        message = None if status in (401, 403) else server_message(
            response.content, secret=self.session.headers.get(settings.USER_KEY_HEADER))
        error = error_for_status(status, url, method=method, message=message, retry_after=retry_after,
                                 key_empty=self.key_empty, conn_id=self.ploomes_conn_id)
        endpoint = endpoint_of(url, self.base_url)
        if status == 404 and method == "GET" and "(" not in endpoint:  # a list the account does not have
            error = self._forbid(PloomesEndpointForbidden(status, url, endpoint, conn_id=self.ploomes_conn_id))
        if isinstance(error, PloomesAuthError):
            error = self._refused(error, endpoint)
        if isinstance(error, PloomesThrottledError):
            self.stats.add(throttled=1)
        elif not isinstance(error, PloomesServerError):  # 5xx and 429 are retried and logged as such
            self.log.error("Ploomes answered %s to %s %s: %s", status, method, url,
                           "the User-Key was rejected" if isinstance(error, PloomesAuthError)
                           else "the endpoint was refused" if isinstance(error, PloomesEndpointForbidden)
                           else message or "(no message)")
        raise error

    def _refused(self, error: PloomesAuthError, endpoint: str) -> PloomesError:
        """A 401, or a 403 where the key check itself is refused, is the key's: no request leaves
        with it again. A 403 on another endpoint asks the key check once: when that answers, the
        endpoint alone is refused (:class:`PloomesEndpointForbidden`), and only it is never asked again."""
        if error.status == 403 and not self.key_empty and endpoint.lower() != settings.KEY_CHECK_ENDPOINT.lower():
            try:
                self.fetch(settings.KEY_CHECK_ENDPOINT, {"$top": "1", "$select": "Id"}, max_attempts=1)
            except PloomesAuthError as refused:
                return refused  # the key check was refused: _rejected is set
            except PloomesError:
                pass  # no telling: the key's error, which names a missing permission among its causes
            else:
                return self._forbid(PloomesEndpointForbidden(error.status, error.url, endpoint,
                                                             conn_id=self.ploomes_conn_id))
        self._rejected = error
        return error

    def _forbid(self, error: PloomesEndpointForbidden) -> PloomesEndpointForbidden:
        self._forbidden[error.endpoint] = error
        return error

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

    def fetch(self, endpoint: str, params: Mapping[str, str], cancel: threading.Event | None = None,
              clock: ReadClock | None = None, max_attempts: int | None = None) -> dict[str, Any]:
        """GET ``endpoint``, rate-limited and retried per :func:`retry.retrying` (at most ``max_attempts``
        times when given); the JSON object. Each answer's Date goes to ``clock`` (the sync's)."""
        prepared = self.build_request(endpoint, params)
        options = self.options
        if max_attempts is not None:
            options = replace(options, max_attempts=min(max_attempts, options.max_attempts))

        def attempt() -> dict[str, Any]:
            response = self.send(prepared, cancel)
            self.check_response(response)
            payload = self.parse_payload(response)
            date = retry.http_date(response.headers.get("Date"))
            if clock is not None and date is not None:
                clock.answered(date, response.elapsed)
            return payload

        return retry.retrying(options, prepared.method or "GET", readable_url(prepared.url), stats=self.stats,
                              limiter=self.limiter, log=self.log, cancel=cancel)(attempt)

    # --- the public API --------------------------------------------------------------------

    def check_key(self) -> None:
        """Check the key cheaply (``GET /Account?$top=1&$select=Id``) before any real work."""
        self.fetch(settings.KEY_CHECK_ENDPOINT, {"$top": "1", "$select": "Id"})
        self.log.info("Ploomes accepted the key of connection %s (%s)", self.ploomes_conn_id, self.base_url)

    def paginate(self, endpoint: str, *, filter: str | None = None, select: str | Sequence[str] | None = None,
                 expand: str | Sequence[str] | None = None, after: int | None = None, upto: int | None = None,
                 page_size: int | None = None, clock: ReadClock | None = None) -> Iterator[list[dict[str, Any]]]:
        """Every record of ``endpoint`` matching ``filter`` with Id in ``(after, upto]``, a page at a time
        in Id order: keyset paging (``$orderby=Id``, ``Id gt <last>``), one request at a time.

        ``select`` gets ``Id`` added when missing. Nothing is requested until the first page is asked
        for. Where to stop is :class:`~ploomes_sync.api.paging.KeysetPaginator`'s to say.
        """
        paginator = KeysetPaginator(page_size or self.options.page_size, filter, after=after, upto=upto)
        params = query_options(select, expand)
        full_page: int | None = None  # the size of a page this read saw the API fill
        while paginator.has_next_page:
            query = dict(params)
            paginator.init_request(query, count=paginator.pages == 0)
            payload = self.fetch(endpoint.strip("/"), query, clock=clock)
            records = payload["value"]
            if len(records) >= paginator.page_size:
                full_page = paginator.page_size
            paginator.update_state(records, count=odata_count(payload), full_page=full_page)
            if records:
                self.stats.add(pages=1, records=len(records))
                yield records

    def count(self, endpoint: str, filter: str | None = None, clock: ReadClock | None = None) -> int | None:
        """``@odata.count`` of ``endpoint`` matching ``filter``; None when the API does not answer it."""
        params = {"$count": "true", "$top": "1", "$select": "Id", **({"$filter": filter} if filter else {})}
        value = odata_count(self.fetch(endpoint.strip("/"), params, clock=clock))
        if value is None:
            self.log.info("Ploomes did not answer @odata.count for %s", endpoint)
        return value

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

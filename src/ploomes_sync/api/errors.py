"""Exceptions of the Ploomes client.

    PloomesError (AirflowException)
    ├── PloomesAuthError (also AirflowFailException)  401/403: the User-Key was rejected; no retry
    ├── PloomesRequestError                           retries exhausted (5xx, timeout, drop, bad JSON, 429s)
    ├── PloomesBadRequestError                        another 4xx (e.g. 400 bad $filter); no retry
    ├── PloomesPagingError                            the answers broke the keyset contract
    ├── ReadCancelled                                 the caller stopped the read; never reaches it
    └── PloomesTransientError                         one failed attempt; retried, never leaves the hook
        ├── PloomesServerError                        a 5xx answer
        ├── PloomesThrottledError                     a 429 answer (with its Retry-After)
        └── PloomesInvalidResponseError               a body that is not a JSON list envelope

Messages name the request (``GET <url>``: the key travels in a header, never in the URL), what
came back and what to do. No message ever contains the key.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any
from urllib.parse import unquote_plus

from airflow.providers.common.compat.sdk import AirflowException, AirflowFailException

from ploomes_sync.settings import KEY_RENEWAL_PLACE, MAX_SERVER_MESSAGE_CHARS, PLOOMES_CONN_ID

REDACTED = "***"  # what a secret reads as in any message


def scrub(text: str, secrets: Iterable[str | None]) -> str:
    """``text`` with every (non-empty) secret replaced by ``***``."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, REDACTED)
    return text


def readable_url(url: str | None) -> str:
    """A URL with its query decoded, for messages (the key is a header, never part of it)."""
    return unquote_plus(url or "")


def server_message(body: bytes | str | None, limit: int = MAX_SERVER_MESSAGE_CHARS, *,
                   secret: str | None = None) -> str | None:
    """The server's own words from an error body, truncated (``secret`` blanked out, should the server
    echo the key); or None.

    Every shape seen in the wild: OData ``{"error": {"code", "message"}}``, ASP.NET ``{"Message"}``,
    a bare string under ``value`` (``{"@odata.context": ".../$metadata#Edm.String", "value": ...}``),
    and plain text.
    """
    if not body:
        return None
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    try:
        document: Any = json.loads(text)
    except ValueError:
        message: Any = text
    else:
        message = _message_of(document)
    if message is None:
        return None
    flat = " ".join(str(message).split())
    flat = scrub(flat, (secret,))
    if not flat:
        return None
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _message_of(document: Any) -> Any:
    """The message field of a JSON error document, whatever its shape."""
    if not isinstance(document, dict):
        return document
    error = document.get("error")
    if isinstance(error, dict):
        message = error.get("message")
        if isinstance(message, dict):  # OData v3: {"lang": ..., "value": ...}
            message = message.get("value")
        code = error.get("code")
        if message and code:
            return f"{code}: {message}"
        return message or code or None
    if isinstance(error, str) and error:
        return error
    # ASP.NET {"Message"}, OAuth, problem+json; and Ploomes' {"@odata.context": ..., "value": "<message>"}
    for key in ("Message", "message", "ExceptionMessage", "error_description", "title", "value"):
        if isinstance(document.get(key), str) and document[key]:
            return document[key]
    return None


def _said(message: str | None) -> str:
    return f" The server said: {message!r}." if message else ""


class PloomesError(AirflowException):
    """Base class of every error of the Ploomes client."""


class PloomesAuthError(PloomesError, AirflowFailException):
    """The API rejected the User-Key (401 or 403): the task fails at once, without retries."""

    def __init__(
        self,
        status: int,
        url: str,
        *,
        key_empty: bool = False,
        server_message: str | None = None,
        conn_id: str = PLOOMES_CONN_ID,
        method: str = "GET",
    ) -> None:
        self.status = status
        self.url = url
        self.key_empty = key_empty
        self.server_message = server_message
        self.conn_id = conn_id
        empty = (
            f" The configured key is EMPTY: connection {conn_id!r} has no password, which usually means"
            " the variable or secret meant to fill it is missing or misspelt."
            if key_empty
            else ""
        )
        super().__init__(
            f"Ploomes rejected the User-Key: {method} {url} answered {status}.{empty} Likely causes: "
            f"(1) an empty or missing key: check the password of connection {conn_id!r} and the name of "
            "the variable or secret that fills it; (2) an expired or revoked key; (3) an integration user "
            "without permission for this endpoint; (4) a query too heavy for the API (any() over tags or "
            f"custom fields is reported to get {status}). Renew or check the key in Ploomes: "
            f"{KEY_RENEWAL_PLACE}; then update the connection. Not retried.{_said(server_message)}"
        )


class PloomesRequestError(PloomesError):
    """A request still failed when its retries ran out (5xx, timeout, dropped connection, bad JSON, 429s)."""

    def __init__(
        self, url: str, attempts: int, cause: str, *, status: int | None = None, throttled: int = 0,
        method: str = "GET",
    ) -> None:
        self.url = url
        self.method = method
        self.attempts = attempts
        self.cause = cause
        self.status = status
        self.throttled = throttled
        tries = f"{attempts} attempt" + ("s" if attempts != 1 else "")
        throttled_note = f" ({throttled} answered 429)" if throttled else ""
        super().__init__(
            f"Ploomes request failed: {method} {url} gave up after {tries}{throttled_note}. Last failure: {cause}."
        )


def timed_out(exc: PloomesRequestError) -> bool:
    """Whether a request that gave up failed the way a page too heavy for the API fails: a 5xx
    (500, 502, 503, 504) or a timeout of ours."""
    return exc.status in (500, 502, 503, 504) or (exc.status is None and "imeout" in exc.cause)


class PloomesBadRequestError(PloomesError):
    """The API refused the request with a 4xx that retrying cannot fix (e.g. 400 for a bad $filter)."""

    def __init__(self, status: int, url: str, server_message: str | None = None, method: str = "GET") -> None:
        self.status = status
        self.url = url
        self.server_message = server_message
        what = "a bad $filter, $select or endpoint" if method == "GET" else "a body or endpoint the API does not accept"
        super().__init__(
            f"Ploomes refused the request: {method} {url} answered {status} (not retried: the request itself "
            f"is wrong, e.g. {what}).{_said(server_message)}"
        )


class PloomesPagingError(PloomesError):
    """A page broke the keyset contract (Ids missing, not integers, or not ascending past the last one)."""


class ReadCancelled(PloomesError):
    """The caller stopped a read: raised in the requests and waits still under way, never to the caller."""


class PloomesTransientError(PloomesError):
    """One attempt failed in a way another attempt may fix; the hook retries it."""

    status: int | None = None


class PloomesServerError(PloomesTransientError):
    """The API answered with a 5xx status."""

    def __init__(self, status: int, url: str, server_message: str | None = None, method: str = "GET") -> None:
        self.status = status
        self.url = url
        self.server_message = server_message
        super().__init__(f"{method} {url} answered {status}.{_said(server_message)}")


class PloomesThrottledError(PloomesTransientError):
    """The API answered 429 Too Many Requests; ``retry_after`` is in seconds, None when not sent."""

    status = 429

    def __init__(self, url: str, retry_after: float | None = None, method: str = "GET") -> None:
        self.url = url
        self.retry_after = retry_after
        asked = f"Retry-After {retry_after:g} s" if retry_after is not None else "no Retry-After"
        super().__init__(f"{method} {url} answered 429 Too Many Requests ({asked}).")


class PloomesInvalidResponseError(PloomesTransientError):
    """A 2xx answer whose body is not a JSON object with a ``value`` list."""

    def __init__(self, status: int, url: str, reason: str, method: str = "GET") -> None:
        self.status = status
        self.url = url
        self.reason = reason
        super().__init__(f"{method} {url} answered {status} with an invalid body: {reason}.")


def error_for_status(status: int, url: str, *, method: str, message: str | None, retry_after: float | None,
                     key_empty: bool, conn_id: str) -> PloomesError:
    """The error a non-2xx answer stands for (``retry_after``: a 429's Retry-After, in seconds)."""
    if status in (401, 403):
        return PloomesAuthError(status, url, key_empty=key_empty, server_message=message, conn_id=conn_id,
                                method=method)
    if status == 429:
        return PloomesThrottledError(url, retry_after, method=method)
    if status >= 500:
        return PloomesServerError(status, url, message, method=method)
    return PloomesBadRequestError(status, url, message, method=method)

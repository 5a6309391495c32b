"""Exceptions of the Ploomes client.

    PloomesError (AirflowException)
    ├── PloomesAuthError (also AirflowFailException)  401/403: the User-Key was rejected; no retry
    ├── PloomesEndpointForbidden (also AirflowFailException)  403 on one endpoint, the key working; 404
    ├── PloomesRedirectError (also AirflowFailException)  a redirect elsewhere: never followed, no retry
    ├── PloomesRequestError                           retries exhausted (5xx, timeout, drop, bad JSON, 429s)
    ├── PloomesBadRequestError                        another 4xx (e.g. 400 bad $filter); no retry
    ├── PloomesPagingError                            the answers broke the keyset contract, or a read's bounds
    ├── ReadCancelled                                 the caller stopped the read; never reaches it
    └── PloomesTransientError                         one failed attempt; retried, never leaves the hook
        ├── PloomesServerError                        a 5xx answer
        ├── PloomesThrottledError                     a 429 answer (with its Retry-After)
        ├── PloomesInvalidResponseError               a body that is not a JSON list envelope
        └── PloomesAnswerTooLarge                     a body larger than max_answer_bytes

Messages name the request (``GET <url>``: the key travels in a header, never in the URL), what
came back and what to do. No message ever contains the key, and the text of a 401/403 answer is
never quoted (a server may echo the key it refused, in any form).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote, quote_plus, unquote_plus

from airflow.providers.common.compat.sdk import AirflowException, AirflowFailException

from ploomes_sync.settings import KEY_CHECK_ENDPOINT, KEY_RENEWAL_PLACE, MAX_SERVER_MESSAGE_CHARS, PLOOMES_CONN_ID

REDACTED = "***"  # what a secret reads as in any message


MIN_SECRET_PIECE = 8  # a run of at least this many characters of a long secret is masked too


def _forms(secret: str) -> set[str]:
    """The forms a secret may be echoed in: as it is, base64 (standard, URL-safe, unpadded) and
    URL-quoted; each compared without case."""
    raw = secret.encode()
    encoded = {base64.b64encode(raw).decode(), base64.urlsafe_b64encode(raw).decode()}
    forms = {secret, quote(secret, safe=""), quote_plus(secret)} | encoded | {e.rstrip("=") for e in encoded}
    return {form.lower() for form in forms if form}


def scrub(text: str, secrets: Iterable[str | None]) -> str:
    """``text`` with every secret replaced by ``***``: whole or in part (any run of a third of it, 8
    characters at least), in any case, as it is or base64- or URL-encoded. Secrets shorter than 4
    characters are left alone (masking them would mask ordinary words)."""
    lowered = text.lower()
    masked = bytearray(len(text))  # 1 where a character belongs to a secret
    for secret in secrets:
        if not secret or len(secret) < 4:
            continue
        for form in _forms(secret):
            piece = len(form) if len(form) < MIN_SECRET_PIECE else max(MIN_SECRET_PIECE, len(form) // 3)
            pieces = {form[at:at + piece] for at in range(len(form) - piece + 1)}
            for at in range(len(lowered) - piece + 1):
                if lowered[at:at + piece] in pieces:
                    masked[at:at + piece] = b"\x01" * piece
    if not any(masked):
        return text
    out, at = [], 0
    while at < len(text):
        if masked[at]:
            while at < len(text) and masked[at]:
                at += 1
            out.append(REDACTED)
        else:
            out.append(text[at])
            at += 1
    return "".join(out)


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
    """The API rejected the User-Key (401 or 403): the task fails at once, without retries. What the
    server said is never quoted: it may echo the key it refused."""

    def __init__(
        self,
        status: int,
        url: str,
        *,
        key_empty: bool = False,
        conn_id: str = PLOOMES_CONN_ID,
        method: str = "GET",
    ) -> None:
        self.status = status
        self.url = url
        self.key_empty = key_empty
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
            f"{KEY_RENEWAL_PLACE}; then update the connection. Not retried."
        )


class PloomesEndpointForbidden(PloomesError, AirflowFailException):
    """One endpoint answered 403 while the key works elsewhere (``GET /Account`` answered), or 404: the
    integration user lacks that module's permission, the account does not have the module, or the
    query was too heavy. Not the key: the task fails at once, the other endpoints go on."""

    def __init__(self, status: int, url: str, endpoint: str, *, conn_id: str = PLOOMES_CONN_ID,
                 method: str = "GET") -> None:
        self.status, self.url, self.endpoint, self.conn_id = status, url, endpoint, conn_id
        if status == 404:
            why = (f"the account does not have /{endpoint} (a module it does not use), or the connection's "
                   "host is not the API's")
        else:
            why = (f"the key works (GET /{KEY_CHECK_ENDPOINT} answered), so the integration user of connection "
                   f"{conn_id!r} most likely lacks permission for the module behind /{endpoint} (Ploomes: "
                   "Administração › Integrações › Usuários de integração › permissions), or the query was too "
                   "heavy for the API")
        super().__init__(f"Ploomes answered {status} to {method} {url}: {why}. Not retried.")


class PloomesRedirectError(PloomesError, AirflowFailException):
    """The API answered with a redirect to another scheme, host or port (or too many): not followed,
    so the key never goes anywhere the connection does not name. No retry."""

    def __init__(self, status: int, url: str, location: str, *, conn_id: str = PLOOMES_CONN_ID,
                 method: str = "GET", reason: str = "another scheme, host or port") -> None:
        self.status, self.url, self.location, self.conn_id = status, url, location, conn_id
        super().__init__(
            f"Ploomes answered {status} to {method} {url}, redirecting to {location} ({reason}). The redirect "
            "was not followed and the User-Key was not sent there. If your account moved (Ploomes serves "
            "accounts from shards such as public6-api2.ploomes.com), set the host of connection "
            f"{conn_id!r} to the base URL it should use; if you do not know that host, ask Ploomes' "
            "support before sending it the key. Not retried."
        )

class PloomesRequestError(PloomesError):
    """A request still failed when its retries ran out (5xx, timeout, dropped connection, bad JSON, 429s)."""

    def __init__(
        self, url: str, attempts: int, cause: str, *, status: int | None = None, throttled: int = 0,
        method: str = "GET", last: BaseException | None = None,
    ) -> None:
        self.url = url
        self.method = method
        self.attempts = attempts
        self.cause = cause
        self.status = status
        self.throttled = throttled
        self.last = last  # the last attempt's failure
        tries = f"{attempts} attempt" + ("s" if attempts != 1 else "")
        throttled_note = f" ({throttled} answered 429)" if throttled else ""
        super().__init__(
            f"Ploomes request failed: {method} {url} gave up after {tries}{throttled_note}. Last failure: {cause}."
        )


def timed_out(exc: PloomesRequestError) -> bool:
    """Whether a request that gave up failed the way a page too heavy for the API fails: a 5xx
    (500, 502, 503, 504), a timeout of ours, or an answer larger than we take."""
    import requests

    return exc.status in (500, 502, 503, 504) or isinstance(exc.last, (requests.Timeout, PloomesAnswerTooLarge))


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


class PloomesAnswerTooLarge(PloomesTransientError):
    """A 2xx answer larger than ``max_answer_bytes``: read no further, retried (a read of records with
    their lines asks for smaller pages)."""

    def __init__(self, status: int, url: str, limit: int, method: str = "GET") -> None:
        self.status = status
        self.url = url
        self.limit = limit
        super().__init__(f"{method} {url} answered {status} with a body larger than {limit} bytes (max_answer_bytes "
                         "of the connection): not read further.")


def error_for_status(status: int, url: str, *, method: str, message: str | None, retry_after: float | None,
                     key_empty: bool, conn_id: str) -> PloomesError:
    """The error a non-2xx answer stands for (``retry_after``: a 429's Retry-After, in seconds); the
    ``message`` of a 401/403 is dropped, never quoted."""
    if status in (401, 403):
        return PloomesAuthError(status, url, key_empty=key_empty, conn_id=conn_id, method=method)
    if status == 429:
        return PloomesThrottledError(url, retry_after, method=method)
    if status >= 500:
        return PloomesServerError(status, url, message, method=method)
    return PloomesBadRequestError(status, url, message, method=method)

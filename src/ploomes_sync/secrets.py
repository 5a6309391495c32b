"""The sync's secrets, and how they are kept out of everything it writes.

The secrets are the passwords, and the extras Airflow deems sensitive, of the connections the
sync uses: ``ploomes_default`` (the User-Key), ``ploomes_webhook`` (the validation key),
``sales_db`` and ``smtp_default``. Its Variables (``ploomes_sync_config``,
``ploomes_sync_alert_emails``) hold none. In a task's process Airflow's own secrets masker hides
them in the logs (a connection a task reads is registered with it); :func:`redact` hides them,
whole or in part, in any case, base64- or URL-encoded, in what leaves by other ways: failure
e-mails, the run history's errors, the health page and its JSON.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from ploomes_sync.api.errors import scrub
from ploomes_sync.settings import PLOOMES_CONN_ID, SALES_DB_CONN_ID, SMTP_CONN_ID, WEBHOOK_CONN_ID

log = logging.getLogger(__name__)

CONNECTIONS = (PLOOMES_CONN_ID, WEBHOOK_CONN_ID, SALES_DB_CONN_ID, SMTP_CONN_ID)
REREAD_SECONDS = 30.0  # a changed password is known this soon


def _sensitive(name: str) -> bool:
    from airflow.sdk._shared.secrets_masker.secrets_masker import should_hide_value_for_key

    return bool(should_hide_value_for_key(name))


def _of(conn_id: str) -> list[str]:
    from airflow.sdk import BaseHook
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        connection = BaseHook.get_connection(conn_id)
    except AirflowNotFoundException:
        return []
    found = [connection.password] if connection.password else []
    extra: Any = connection.extra_dejson
    found += [value for key, value in extra.items() if isinstance(value, str) and value and _sensitive(key)]
    return found


class _Known:
    """The secrets, read again at most every ``REREAD_SECONDS``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._secrets: list[str] = []
        self._read_at = float("-inf")

    def get(self) -> list[str]:
        with self._lock:
            if time.monotonic() - self._read_at >= REREAD_SECONDS:
                secrets: list[str] = []
                for conn_id in CONNECTIONS:
                    try:
                        secrets += _of(conn_id)
                    except Exception as exc:  # noqa: BLE001 - a secrets backend down must not hide the message
                        log.warning("Could not read connection %s to mask its secrets: %s", conn_id,
                                    type(exc).__name__)
                self._secrets, self._read_at = secrets, time.monotonic()
            return list(self._secrets)

    def forget(self) -> None:
        with self._lock:
            self._read_at = float("-inf")


_KNOWN = _Known()


def known_secrets() -> list[str]:
    """The passwords and sensitive extras of the sync's connections (those that exist)."""
    return _KNOWN.get()


def forget() -> None:
    """Read the connections again at the next :func:`known_secrets` (after a password changed)."""
    _KNOWN.forget()


def redact(text: str) -> str:
    """``text`` with every secret of the sync's connections replaced by ``***`` (see the module's
    docstring), and whatever Airflow's secrets masker knows in this process."""
    from airflow.sdk._shared.secrets_masker.secrets_masker import redact as airflow_redact

    hidden = scrub(text, known_secrets())
    masked = airflow_redact(hidden)
    return masked if isinstance(masked, str) else hidden

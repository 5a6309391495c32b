"""Ploomes-style date strings: São Paulo offset (-03:00) and a fraction of varying length.

Instants keep the full resolution of a 7-digit .NET fraction (100 ns): no precision is lost.
"""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta

SAO_PAULO_OFFSET_SECONDS = -3 * 3600  # no daylight saving time since 2019
SAO_PAULO_SUFFIX = "-03:00"
TICKS_PER_SECOND = 10_000_000

_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)

Instant = tuple[datetime, int]  # an aware datetime (to the microsecond) and the 7th fraction digit


def parse_instant(text: str) -> Instant | None:
    """The instant an ISO 8601 string with an offset names; None when it is not one.

    Accepts ``YYYY-MM-DDTHH:MM[:SS[.fraction]]`` followed by ``Z`` or ``±HH:MM``; a fraction
    may have any number of digits (the 8th and later are ignored). Instants compare as
    tuples, whatever their offsets.
    """
    if text[10:11] != "T" or text[4:5] != "-":
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        return None
    # fromisoformat keeps microseconds; the 7th digit of a .NET fraction is kept apart
    return moment, int(text[26]) if text[19:20] == "." and text[20:27].isdigit() else 0


def parse_ticks(text: str) -> int | None:
    """Like :func:`parse_instant`, as 100 ns ticks since the Unix epoch."""
    instant = parse_instant(text)
    if instant is None:
        return None
    moment, seventh = instant
    return (moment - _EPOCH) // _MICROSECOND * 10 + seventh


def render(epoch_seconds: int, fraction: str = "") -> str:
    """São Paulo local time of ``epoch_seconds`` as ``YYYY-MM-DDTHH:MM:SS<fraction>-03:00``.

    ``fraction`` is inserted verbatim (``""``, ``".13"``, ``".957"``, ``".9570000"``).
    """
    t = time.gmtime(epoch_seconds + SAO_PAULO_OFFSET_SECONDS)
    return (
        f"{t.tm_year:04d}-{t.tm_mon:02d}-{t.tm_mday:02d}T"
        f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d}{fraction}{SAO_PAULO_SUFFIX}"
    )


def now_string() -> str:
    """The current instant as the API renders it (São Paulo offset, milliseconds)."""
    now = time.time()
    seconds = int(now)
    millis = min(999, int((now - seconds) * 1000))
    return render(seconds, f".{millis:03d}")


def sao_paulo_epoch(year: int, month: int = 1, day: int = 1, hour: int = 0, minute: int = 0) -> int:
    """Epoch seconds of a São Paulo wall-clock time."""
    ordinal = date(year, month, day).toordinal()
    return (ordinal - _EPOCH_ORDINAL) * 86400 + hour * 3600 + minute * 60 - SAO_PAULO_OFFSET_SECONDS


def sao_paulo_midnight(epoch_seconds: float) -> int:
    """Epoch seconds of the São Paulo midnight that starts the day holding ``epoch_seconds``."""
    local = int(epoch_seconds) + SAO_PAULO_OFFSET_SECONDS
    return local - local % 86400 - SAO_PAULO_OFFSET_SECONDS

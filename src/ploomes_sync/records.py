"""The conversions of Ploomes values to warehouse values, each raising :class:`Invalid` with its reason.

Pure functions on the hot path of every extract (up to hundreds of thousands of records a run):
no I/O, patterns compiled once, and only a bad record pays for an exception. The streams
(:mod:`ploomes_sync.streams`) say which field feeds which column through which of these.

What is checked, after the warehouse contract:

- ``Id``: an ``int`` (``bool`` is not), positive, within ``bigint``;
- instants (:func:`parse_instant`): ISO 8601, offset or São Paulo local time, any fraction length,
  rounded to microseconds exactly as PostgreSQL rounds ``timestamptz`` input; returned in UTC;
- money: ``int`` or finite ``float`` (``Decimal(repr(x))``), rounded half away from zero to
  cents like ``numeric(15,2)``, and within its range;
- text: ``str`` or null, without NUL and encodable in UTF-8, otherwise kept unchanged;
- contacts: CNPJ as 14 digits, ZIP code as 8 digits (both null when they cannot be), client tag.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Context, Decimal
from typing import Any
from zoneinfo import ZoneInfo

from ploomes_sync.settings import BUSINESS_TIMEZONE

STATUS_NAMES = {1: "open", 2: "won", 3: "lost"}  # Deal.StatusId -> sales.status
BIGINT_MAX = 2**63 - 1
MONEY_LIMIT = Decimal(10) ** 13  # numeric(15,2) holds |value| < 10**13

_BIGINT_MIN = -(2**63)
_INT_MONEY_LIMIT = 10**13
_CENT = Decimal("0.01")
_ZERO_CENTS = Decimal("0.00")
_MONEY_CONTEXT = Context(prec=28, rounding=ROUND_HALF_UP)  # independent of the thread's context
_LOCAL = ZoneInfo(BUSINESS_TIMEZONE)
_SHOW_LIMIT = 120

# YYYY-MM-DD(T| )HH:MM:SS, optional fraction of any length, optional Z / ±HH:MM / ±HHMM / ±HH.
_INSTANT = re.compile(r"(\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2})(?:\.(\d+))?(Z|[+-]\d{2}(?::?\d{2})?)?",
                      re.ASCII)
_NON_DIGITS = re.compile(r"[^0-9]")
_CEP = re.compile(r"(\d{5})-(\d{3})", re.ASCII)


@dataclass(frozen=True, slots=True)
class Reject:
    """A record set aside: its Id as text (when it has one), why, and the record as JSON text."""

    record_id: str | None
    reason: str
    raw: str


class Invalid(Exception):
    """One field of a record is unusable; the message is the reject's reason."""


def _show(value: Any) -> str:
    """``repr`` cut to a readable length (escapes NUL and surrogates, so it is safe to store)."""
    text = repr(value)
    return text if len(text) <= _SHOW_LIMIT else text[:_SHOW_LIMIT] + "..."


def _describe(value: Any) -> str:
    return "null" if value is None else f"{type(value).__name__} {_show(value)}"


def parse_instant(value: str) -> datetime:
    """Parse a Ploomes date into an aware UTC datetime; raise ``ValueError`` saying what is wrong.

    Takes ``YYYY-MM-DDTHH:MM:SS`` (or a space for ``T``), a fraction of any length and an offset
    (``Z``, ``±HH:MM``, ``±HHMM``, ``±HH``). Without an offset the time is São Paulo local time; a
    local time skipped or repeated by a clock change is read as the later instant, as PostgreSQL
    does. Fractions beyond microseconds are rounded as PostgreSQL 15 rounds them:
    ``rint(strtod("0.<digits>") * 1e6)``, ties to even on that double.
    """
    if type(value) is str:
        size = len(value)
        if (size >= 25 and value[size - 6] in "+-" and value[size - 3] == ":" and value[4] == "-"
                and value[7] == "-" and value[10] == "T" and value[13] == ":" and value[16] == ":"
                and value.isascii()):
            # what Ploomes sends, "YYYY-MM-DDTHH:MM:SS[.f...]±HH:MM", needs no pattern: half the cost
            try:
                if size == 25 or (26 < size <= 32 and value[19] == "."):
                    return datetime.fromisoformat(value).astimezone(UTC)
                fraction = value[20:size - 6]
                if size > 32 and value[19] == "." and fraction.isdigit():
                    instant = datetime.fromisoformat(value[:19] + value[size - 6:]).astimezone(UTC)
                    return instant + timedelta(microseconds=round(float("0." + fraction) * 1e6))
            except (ValueError, OverflowError):
                pass  # _parse_strict says what is wrong
    return _parse_strict(value)


def _parse_strict(value: Any) -> datetime:
    """:func:`parse_instant` for any shape it takes (the reference its fast path must agree with)."""
    if type(value) is not str:
        raise ValueError(f"expected an ISO 8601 date string, got {_describe(value)}")
    match = _INSTANT.fullmatch(value)
    if match is None:
        raise ValueError(f"not an ISO 8601 date: {_show(value)}")
    fraction = match[2]
    try:
        if fraction is None or len(fraction) <= 6:
            parsed, micro = datetime.fromisoformat(value), 0
        else:  # fromisoformat truncates what it does not reject: round like PostgreSQL instead
            offset = match[3]
            parsed = datetime.fromisoformat(match[1] if offset is None else match[1] + offset)
            micro = round(float("0." + fraction) * 1e6)
        if parsed.tzinfo is not None:
            instant = parsed.astimezone(UTC)
        else:  # local time; PostgreSQL picks the offset from the un-rounded seconds, so do we
            instant = max(parsed.replace(tzinfo=_LOCAL).astimezone(UTC),
                          parsed.replace(tzinfo=_LOCAL, fold=1).astimezone(UTC))
        return instant + timedelta(microseconds=micro) if micro else instant
    except ValueError as exc:
        raise ValueError(f"not a valid date: {_show(value)} ({exc})") from exc
    except OverflowError as exc:
        raise ValueError(f"out of range (years 1..9999 in UTC): {_show(value)}") from exc


def record_id(value: Any) -> int:
    if type(value) is not int:
        raise Invalid("Id: missing" if value is None else f"Id: expected an integer, got {_describe(value)}")
    if value <= 0:
        raise Invalid(f"Id: must be positive, got {value}")
    if value > BIGINT_MAX:
        raise Invalid(f"Id: out of bigint range: {value}")
    return value


def integer(value: Any, field: str) -> int | None:
    if value is None:
        return None
    if type(value) is not int:
        raise Invalid(f"{field}: expected an integer or null, got {_describe(value)}")
    if not _BIGINT_MIN <= value <= BIGINT_MAX:
        raise Invalid(f"{field}: out of bigint range: {value}")
    return value


def text(value: Any, field: str) -> str | None:
    if value is None:
        return None
    if type(value) is not str:
        raise Invalid(f"{field}: expected text or null, got {_describe(value)}")
    if "\x00" in value:
        raise Invalid(f"{field}: contains NUL (U+0000) at position {value.index(chr(0))}; "
                       "PostgreSQL text cannot store NUL")
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise Invalid(f"{field}: lone surrogate U+{ord(value[exc.start]):04X} at position {exc.start} "
                           "cannot be encoded in UTF-8") from exc
    return value


def instant(value: Any, field: str) -> datetime:
    if value is None:
        raise Invalid(f"{field}: missing")
    try:
        return parse_instant(value)
    except ValueError as exc:
        raise Invalid(f"{field}: {exc}") from exc


def status(value: Any) -> str:
    if type(value) is int:
        name = STATUS_NAMES.get(value)
        if name is not None:
            return name
    raise Invalid(f"StatusId: expected 1 (open), 2 (won) or 3 (lost), got {_describe(value)}")


def money(value: Any, field: str) -> Decimal | None:
    kind = type(value)
    if kind is float:
        if not -1e13 < value < 1e13:  # also false for NaN and infinities
            if not math.isfinite(value):
                raise Invalid(f"{field}: not a finite number: {value!r}")
            raise Invalid(f"{field}: {value!r} does not fit numeric(15,2) (|value| < 10^13)")
        number = Decimal(repr(value))  # the shortest decimal that reads back as this float: 1234.56
    elif kind is int:
        if not -_INT_MONEY_LIMIT < value < _INT_MONEY_LIMIT:
            raise Invalid(f"{field}: {_show(value)} does not fit numeric(15,2) (|value| < 10^13)")
        number = Decimal(value)
    elif value is None:
        return None
    else:
        raise Invalid(f"{field}: expected a number or null, got {_describe(value)}")
    rounded = number.quantize(_CENT, context=_MONEY_CONTEXT)
    if not -MONEY_LIMIT < rounded < MONEY_LIMIT:  # 9999999999999.996 rounds up to 10^13
        raise Invalid(f"{field}: {value!r} rounds to {rounded}, which does not fit numeric(15,2)")
    return rounded if rounded else _ZERO_CENTS  # no "-0.00"


def decimal(value: Any, field: str, scale: int, digits: int) -> Decimal | None:
    """A number as ``numeric(digits, scale)`` stores it (rounded half away from zero), or null."""
    if value is None:
        return None
    kind = type(value)
    if kind is float:
        if not math.isfinite(value):
            raise Invalid(f"{field}: not a finite number: {value!r}")
        number = Decimal(repr(value))
    elif kind is int:
        number = Decimal(value)
    else:
        raise Invalid(f"{field}: expected a number or null, got {_describe(value)}")
    limit = Decimal(10) ** (digits - scale)
    if not -limit < number < limit:
        raise Invalid(f"{field}: {_show(value)} does not fit numeric({digits},{scale}) (|value| < 10^{digits - scale})")
    rounded = number.quantize(Decimal(1).scaleb(-scale), context=_MONEY_CONTEXT)
    if not -limit < rounded < limit:
        raise Invalid(f"{field}: {value!r} rounds to {rounded}, which does not fit numeric({digits},{scale})")
    return rounded if rounded else Decimal(0).scaleb(-scale)


def flag(value: Any, field: str) -> bool | None:
    if value is None or type(value) is bool:
        return value
    raise Invalid(f"{field}: expected true, false or null, got {_describe(value)}")


def cnpj(value: Any) -> str | None:
    """The 14 digits of a CNPJ, formatted (``12.345.678/0001-90``) or bare; else None."""
    if type(value) is str:
        digits = value if value.isascii() and value.isdigit() else _NON_DIGITS.sub("", value)
    elif type(value) is int and value >= 0:
        digits = str(value)
    else:
        return None
    return digits if len(digits) == 14 else None


def zip_code(value: Any) -> str | None:
    """ZipCode (a number that lost its leading zeros, or text) as 8 digits; else None."""
    if type(value) is int:
        return f"{value:08d}" if 0 < value <= 99_999_999 else None
    if type(value) is not str:
        return None
    text = value.strip()
    cep = _CEP.fullmatch(text)
    if cep is not None:
        text = cep[1] + cep[2]
    if 0 < len(text) <= 8 and text.isascii() and text.isdigit() and text.strip("0"):
        return text.zfill(8)
    return None


def has_tag(tags: Any, tag_id: int) -> bool:
    """Whether an entry of ``Tags`` (``[{"TagId", "Tag": {"Id"}}]``) carries ``tag_id``."""
    if type(tags) is not list:
        return False
    for entry in tags:
        if type(entry) is not dict:
            continue
        found = entry.get("TagId")
        if type(found) is int and found == tag_id:
            return True
        tag = entry.get("Tag")
        if type(tag) is dict:
            found = tag.get("Id")
            if type(found) is int and found == tag_id:
                return True
    return False


def _raw(record: Any) -> str:
    """The record as JSON text, as it came; always encodable in UTF-8."""
    try:
        raw = json.dumps(record, ensure_ascii=False, default=str)
    except (TypeError, ValueError):  # not JSON-shaped (keys that are not text, cycles): keep its repr
        return json.dumps(repr(record))
    if not raw.isascii():
        try:
            raw.encode("utf-8")
        except UnicodeEncodeError:  # lone surrogates: the same JSON, with \\uXXXX escapes
            return json.dumps(record, default=str)
    return raw


def reject(record: Any, reason: str) -> Reject:
    record_id = None
    if isinstance(record, dict):
        value = record.get("Id")
        if value is not None:
            record_id = str(value) if type(value) is int else _show(value)
    return Reject(record_id, reason, _raw(record))


def not_an_object(record: Any) -> Reject:
    return reject(record, f"record: expected a JSON object, got {_describe(record)}")


# --- custom fields (OtherProperties) ----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """What a custom field's definition (``/Fields``) says of how to read its values: its
    ``NativeType`` (``String``, ``BigString``, ``Integer``, ``Decimal``, ``DateTime``, ``Bool``),
    whether it is an option list, and whether it takes several options."""

    native_type: str | None = None
    options: bool = False
    multiple: bool = False


# a reference to a user, a contact or a product: its id, whatever the type's number
_REFERENCES = ("UserValueId", "ContactValueId", "ProductValueId")
# a field whose definition is not known yet (created since the last read of /Fields): the first set
_ANY_VALUE = ("ObjectValueId", "StringValue", "BigStringValue", "DecimalValue", "IntegerValue", "DateTimeValue",
              "BoolValue")


def custom_values(items: Any, fields: dict[str, FieldSpec]) -> dict[str, Any]:
    """A record's ``OtherProperties`` (one item per value) as the warehouse keeps them: its field key ->
    a JSON value typed by the field's native type (text a string; integer, decimal, currency and percent
    numbers; a checkbox true or false; a date an ISO 8601 string with its offset), an option list's
    option id, a field that takes several options a list of ids, a reference its id. A field without a
    value has no key. Raises :class:`Invalid` naming the item."""
    if items is None:
        return {}
    if type(items) is not list:
        raise Invalid(f"OtherProperties: expected a list of values, got {_describe(items)}")
    found: dict[str, list[Any]] = {}
    for position, item in enumerate(items):
        if type(item) is not dict:
            raise Invalid(f"OtherProperties[{position}]: expected a JSON object, got {_describe(item)}")
        key = item.get("FieldKey")
        if type(key) is not str or not key:
            raise Invalid(f"OtherProperties[{position}].FieldKey: expected the field's key, got {_describe(key)}")
        value = _custom_value(item, fields.get(key), f"OtherProperties[{position}]")
        if value is not None:
            found.setdefault(key, []).append(value)
    return {key: values if len(values) > 1 or (key in fields and fields[key].multiple) else values[0]
            for key, values in found.items()}


def _custom_value(item: dict[str, Any], spec: FieldSpec | None, where: str) -> Any:
    if spec is not None and spec.options:
        value = item.get("ObjectValueId")
        return _whole(item.get("IntegerValue") if value is None else value, f"{where}.ObjectValueId")
    for name in _REFERENCES:
        if item.get(name) is not None:
            return _whole(item[name], f"{where}.{name}")
    if spec is not None and spec.native_type:
        name = f"{spec.native_type}Value"
        return _typed(name, item.get(name), f"{where}.{name}")
    for name in _ANY_VALUE:
        if item.get(name) is not None:
            return _typed(name, item[name], f"{where}.{name}")
    return None


def _whole(value: Any, where: str) -> int | None:
    if value is None or (type(value) is int and _BIGINT_MIN <= value <= BIGINT_MAX):
        return value
    raise Invalid(f"{where}: expected an id, got {_describe(value)}")


def _typed(name: str, value: Any, where: str) -> Any:
    if value is None:
        return None
    if name in ("StringValue", "BigStringValue"):
        return text(value, where)
    if name in ("IntegerValue", "ObjectValueId"):
        return _whole(value, where)
    if name == "DecimalValue":
        if type(value) is int or (type(value) is float and math.isfinite(value)):
            return value
        raise Invalid(f"{where}: expected a finite number, got {_describe(value)}")
    if name == "DateTimeValue":
        local = instant(value, where).astimezone(_LOCAL)
        return local.isoformat(timespec="milliseconds" if local.microsecond else "seconds")
    if name == "BoolValue":
        if type(value) is bool:
            return value
        raise Invalid(f"{where}: expected true or false, got {_describe(value)}")
    raise Invalid(f"{where}: a value of a kind the sync does not know")

"""ploomes_sync.records and the streams' rows: every Ploomes record becomes a row or a reject with its reason."""

from __future__ import annotations

import copy
import dataclasses
import json
import math
import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from ploomes_sync.records import BIGINT_MAX, Reject, _parse_strict, parse_instant
from ploomes_sync.streams import ReadContext, contacts
from tests.support.contract import compared
from tests.support.streams import DEALS

DEAL_LISTING = DEALS.listing()
DEAL_COLUMNS, DEAL_FIELDS = DEALS.column_names, DEALS.select
CONTACT_COLUMNS, CONTACT_FIELDS = contacts().column_names, contacts().select
DEAL_LISTING_COLUMNS, DEAL_LISTING_FIELDS = DEAL_LISTING.column_names, DEAL_LISTING.select


def deal_row(record: Any) -> Any:
    return DEALS.row(record)


def contact_row(record: Any, tag: int) -> Any:
    return contacts().row(record, ReadContext(client_tag_id=tag))


def deal_listing_row(record: Any) -> Any:
    return DEAL_LISTING.row(record)

SAO_PAULO = ZoneInfo("America/Sao_Paulo")
CLIENT_TAG = 40006184
MISSING = object()  # marks a field to leave out of a record

DEAL: dict[str, Any] = {
    "Id": 1001,
    "Title": "Licenças 2023",
    "ContactId": 501,
    "ContactName": "ACME",  # not selected: ignored
    "Amount": 1234.56,
    "StatusId": 2,
    "PipelineId": 10,
    "StageId": 44,
    "OwnerId": 7,
    "CreateDate": "2023-03-07T12:39:44.957-03:00",
    "LastUpdateDate": "2023-04-01T09:00:00-03:00",
    "FinishDate": "2023-03-30T18:00:00.1234567-03:00",
}
CONTACT: dict[str, Any] = {
    "Id": 501,
    "Name": "ACME",
    "LegalName": "ACME Comércio Ltda",
    "Register": None,
    "CNPJ": "12.345.678/0001-90",
    "ZipCode": 1310100,
    "CreateDate": "2022-12-15T14:59:45.13-03:00",
    "LastUpdateDate": "2023-03-23T00:00:00-03:00",
    "Tags": [{"TagId": 1, "Tag": {"Id": 1, "Name": "Lead"}},
             {"TagId": CLIENT_TAG, "Tag": {"Id": CLIENT_TAG, "Name": "Cliente"}}],
}
LISTING: dict[str, Any] = {
    "Id": 1001,
    "CreateDate": "2023-03-07T12:39:44.957-03:00",
    "StatusId": 3,
    "Amount": 10,
    "LastUpdateDate": "2023-04-01T09:00:00Z",
}


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def changed(base: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """A copy of ``base`` with fields replaced, or left out when given ``MISSING``."""
    record = copy.deepcopy(base)
    for key, value in changes.items():
        if value is MISSING:
            record.pop(key, None)
        else:
            record[key] = value
    return record


def row_of(record: dict[str, Any]) -> dict[str, Any]:
    """deal_row as a column -> value dict (fails when the record was rejected)."""
    row = deal_row(record)
    assert type(row) is tuple, row
    return dict(zip(DEAL_COLUMNS, row, strict=True))


def contact_of(record: dict[str, Any], tag: int = CLIENT_TAG) -> dict[str, Any]:
    row = contact_row(record, tag)
    assert type(row) is tuple, row
    return dict(zip(CONTACT_COLUMNS, row, strict=True))


def rejected(result: tuple | Reject, *fragments: str) -> Reject:
    """Assert ``result`` is a Reject whose reason holds every fragment; return it."""
    assert isinstance(result, Reject), f"expected a reject, got {result!r}"
    for fragment in fragments:
        assert fragment in result.reason, result.reason
    return result


class TestContract:
    def test_column_orders_are_the_contract_tables(self) -> None:
        assert DEAL_COLUMNS == compared("sales")
        assert CONTACT_COLUMNS == compared("customers")
        assert DEAL_LISTING_COLUMNS[:2] == ("id", "updated_at") and set(DEAL_LISTING_COLUMNS) <= set(DEAL_COLUMNS)

    def test_selects_name_the_fields_the_rows_need_once(self) -> None:
        for stream in (DEALS, contacts(), DEAL_LISTING):
            expanded = {column.expand for column in stream.columns}
            wanted = {field for column in stream.columns for field in column.fields} - expanded
            assert set(stream.select) == wanted and len(stream.select) == len(wanted)
        assert "Tags" not in CONTACT_FIELDS  # Tags come with $expand

    @pytest.mark.parametrize(
        ("convert", "record", "allowed"),
        [
            (deal_row, DEAL, set(DEAL_FIELDS) | {"OtherProperties"}),
            (lambda r: contact_row(r, CLIENT_TAG), CONTACT, set(CONTACT_FIELDS) | {"Tags", "OtherProperties"}),
            (deal_listing_row, LISTING, set(DEAL_LISTING_FIELDS) | {"OtherProperties"}),
        ],
        ids=["deals", "contacts", "listing"],
    )
    def test_rows_read_only_the_selected_and_expanded_fields(self, convert, record, allowed) -> None:
        read: set[str] = set()

        class Spy(dict):
            def get(self, key, default=None):
                read.add(key)
                return super().get(key, default)

            def __getitem__(self, key):
                read.add(key)
                return super().__getitem__(key)

        assert type(convert(Spy(record))) is tuple
        assert read <= allowed

    @pytest.mark.parametrize(
        ("convert", "record", "columns"),
        [
            (deal_row, DEAL, DEAL_COLUMNS),
            (lambda r: contact_row(r, CLIENT_TAG), CONTACT, CONTACT_COLUMNS),
            (deal_listing_row, LISTING, DEAL_LISTING_COLUMNS),
        ],
        ids=["deals", "contacts", "listing"],
    )
    def test_rows_are_plain_tuples_as_long_as_their_columns(self, convert, record, columns) -> None:
        row = convert(record)
        assert type(row) is tuple
        assert len(row) == len(columns)

    @pytest.mark.parametrize("convert", [deal_row, lambda r: contact_row(r, CLIENT_TAG), deal_listing_row],
                             ids=["deals", "contacts", "listing"])
    def test_input_record_is_not_mutated(self, convert) -> None:
        record = changed(DEAL, StatusId=9, Tags=[{"TagId": 1}])
        before = copy.deepcopy(record)
        convert(record)
        assert record == before


class TestParseInstant:
    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ("2023-03-07T12:39:44-03:00", utc(2023, 3, 7, 15, 39, 44)),
            ("2023-03-07T12:39:44.9-03:00", utc(2023, 3, 7, 15, 39, 44, 900000)),
            ("2022-12-15T14:59:45.13-03:00", utc(2022, 12, 15, 17, 59, 45, 130000)),
            ("2023-03-07T12:39:44.957-03:00", utc(2023, 3, 7, 15, 39, 44, 957000)),
            ("2023-03-07T12:39:44.123456-03:00", utc(2023, 3, 7, 15, 39, 44, 123456)),
            ("2023-03-07T12:39:44.1234567-03:00", utc(2023, 3, 7, 15, 39, 44, 123457)),
            ("2023-03-07T12:39:44.123456789-03:00", utc(2023, 3, 7, 15, 39, 44, 123457)),
            ("2023-03-07T12:39:44.123456400000-03:00", utc(2023, 3, 7, 15, 39, 44, 123456)),
        ],
        ids=["0-digits", "1-digit", "2-digits", "3-digits", "6-digits", "7-digits", "9-digits", "12-digits"],
    )
    def test_fraction_of_any_length(self, text: str, expected: datetime) -> None:
        assert parse_instant(text) == expected

    @pytest.mark.parametrize(
        ("fraction", "expected"),
        [
            # observed on PostgreSQL 15.20: SELECT '2023-03-07T12:39:44<fraction>Z'::timestamptz
            (".0000005", utc(2023, 3, 7, 12, 39, 44, 0)),  # exact tie: to even, not away from zero
            (".0000015", utc(2023, 3, 7, 12, 39, 44, 2)),
            (".0000025", utc(2023, 3, 7, 12, 39, 44, 2)),  # tie to even again
            (".1234565", utc(2023, 3, 7, 12, 39, 44, 123456)),
            (".1234575", utc(2023, 3, 7, 12, 39, 44, 123458)),
            (".00000049999", utc(2023, 3, 7, 12, 39, 44, 0)),
            (".000000500000001", utc(2023, 3, 7, 12, 39, 44, 1)),
            (".9999995", utc(2023, 3, 7, 12, 39, 45, 0)),  # carries into the next second
            (".9999994", utc(2023, 3, 7, 12, 39, 44, 999999)),
        ],
    )
    def test_extra_digits_round_like_postgresql(self, fraction: str, expected: datetime) -> None:
        assert parse_instant(f"2023-03-07T12:39:44{fraction}Z") == expected

    def test_rounding_carries_across_the_year(self) -> None:
        assert parse_instant("2023-12-31T23:59:59.99999999Z") == utc(2024, 1, 1)

    @pytest.mark.parametrize(
        "text",
        [
            "2023-03-07T15:39:44Z",
            "2023-03-07T15:39:44+00:00",
            "2023-03-07T12:39:44-03:00",
            "2023-03-07T12:39:44-0300",
            "2023-03-07T12:39:44-03",
            "2023-03-07T21:09:44+05:30",
            "2023-03-07 12:39:44-03:00",
            "2023-03-07T12:39:44",  # no offset: São Paulo, which is -03:00 in 2023
        ],
    )
    def test_offsets_and_naive_give_the_same_instant(self, text: str) -> None:
        assert parse_instant(text) == utc(2023, 3, 7, 15, 39, 44)

    @pytest.mark.parametrize("text", ["2023-03-07T12:39:44.957-03:00", "2023-03-07T12:39:44",
                                      "2023-03-07T12:39:44.1234567Z"])
    def test_result_is_aware_and_in_utc(self, text: str) -> None:
        assert parse_instant(text).tzinfo is UTC

    def test_naive_time_in_summer_time_uses_sao_paulo_rules(self) -> None:
        assert parse_instant("2018-12-01T10:00:00") == utc(2018, 12, 1, 12)  # DST then: -02:00

    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            # observed on PostgreSQL 15.20 with TimeZone = 'America/Sao_Paulo'
            ("2018-11-04T00:30:00", utc(2018, 11, 4, 3, 30)),  # skipped by the clock: -03:00
            ("2019-02-16T23:30:00", utc(2019, 2, 17, 2, 30)),  # repeated: the later reading, -03:00
            ("2019-02-16T22:59:59.9999999", utc(2019, 2, 17, 1)),  # offset chosen before rounding
        ],
    )
    def test_naive_time_at_a_clock_change_matches_postgresql(self, text: str, expected: datetime) -> None:
        assert parse_instant(text) == expected

    def test_sao_paulo_year_differs_from_utc_year_near_midnight(self) -> None:
        instant = parse_instant("2023-12-31T23:59:59.9-03:00")
        assert instant == utc(2024, 1, 1, 2, 59, 59, 900000)
        assert instant.astimezone(SAO_PAULO).year == 2023

    @pytest.mark.parametrize(
        "text",
        [
            "",
            "2024-13-01",
            "2023-03-07",
            "2023-03-07T12:39Z",
            "2023-03-07T12:39:44.-03:00",
            "2023-03-07T12:39:44,5Z",
            "2023-03-07T12:39:44.957-03:00 ",
            " 2023-03-07T12:39:44.957-03:00",
            "2023-03-07T12:39:44.957-03:00\n",
            "20230307T123944Z",
            "2023-W10-2T12:39:44Z",
            "07/03/2023 12:39:44",
            "/Date(1678203584957-0300)/",
            "2023-03-07T12:39:44.957 -03:00",
            "2023-03-07T12:39:44.957-3:00",
            "\u0662\u0660\u0662\u0663-03-07T12:39:44Z",  # Arabic-Indic digits
            "10000-01-01T00:00:00Z",
        ],
    )
    def test_not_iso_8601_raises_and_quotes_the_value(self, text: str) -> None:
        with pytest.raises(ValueError, match="not an ISO 8601 date") as caught:
            parse_instant(text)
        assert repr(text)[:50] in str(caught.value)

    @pytest.mark.parametrize(
        ("text", "detail"),
        [
            ("2024-13-01T00:00:00-03:00", "month"),
            ("2023-02-29T00:00:00-03:00", "day"),
            ("2023-03-07T24:00:00Z", "hour"),
            ("2023-03-07T12:60:00Z", "minute"),
            ("2023-03-07T12:39:60Z", "second"),
            ("0000-01-01T00:00:00Z", "year 0"),
            ("2023-03-07T12:39:44+24:00", "offset"),
        ],
    )
    def test_impossible_date_raises_with_the_cause(self, text: str, detail: str) -> None:
        with pytest.raises(ValueError, match="not a valid date") as caught:
            parse_instant(text)
        assert detail in str(caught.value)

    @pytest.mark.parametrize(
        "text",
        [
            "9999-12-31T23:00:00-03:00",  # 10000 in UTC
            "9999-12-31T23:00:00",  # naive, São Paulo
            "0001-01-01T00:00:00+01:00",  # year 0 in UTC
            "9999-12-31T23:59:59.9999995Z",  # rounds into year 10000
        ],
    )
    def test_instant_outside_years_1_to_9999_raises(self, text: str) -> None:
        with pytest.raises(ValueError, match="out of range"):
            parse_instant(text)

    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ("0001-01-01T00:00:00Z", utc(1, 1, 1)),
            ("9999-12-31T23:59:59.999999Z", utc(9999, 12, 31, 23, 59, 59, 999999)),
        ],
    )
    def test_extreme_years_inside_the_range_parse(self, text: str, expected: datetime) -> None:
        assert parse_instant(text) == expected

    @pytest.mark.parametrize("value", [None, 1678203584, 1678203584.957, True, b"2023-03-07T12:39:44Z",
                                       datetime(2023, 3, 7, tzinfo=UTC), ["2023-03-07T12:39:44Z"]])
    def test_non_string_raises_value_error_naming_the_type(self, value: Any) -> None:
        with pytest.raises(ValueError, match="expected an ISO 8601 date string, got"):
            parse_instant(value)

    def test_very_long_value_is_cut_in_the_message(self) -> None:
        with pytest.raises(ValueError) as caught:
            parse_instant("x" * 100_000)
        assert len(str(caught.value)) < 300


class TestDealRow:
    def test_full_deal(self) -> None:
        assert row_of(DEAL).items() >= {
            "id": 1001, "customer_id": 501, "title": "Licenças 2023", "deal_value": Decimal("1234.56"),
            "status": "won", "won": True, "pipeline_id": 10, "stage_id": 44, "owner_id": 7,
            "created_at": utc(2023, 3, 7, 15, 39, 44, 957000), "updated_at": utc(2023, 4, 1, 12),
            "closed_at": utc(2023, 3, 30, 21, 0, 0, 123457),
        }.items()

    def test_minimal_deal_has_nulls_for_missing_optional_fields(self) -> None:
        record = {"Id": 1, "StatusId": 1, "CreateDate": "2023-03-07T12:39:44Z",
                  "LastUpdateDate": "2023-03-07T12:39:44Z"}
        given = {"id": 1, "status": "open", "won": False, "created_at": utc(2023, 3, 7, 12, 39, 44),
                 "updated_at": utc(2023, 3, 7, 12, 39, 44), "custom_fields": "{}"}
        assert row_of(record) == {column: given.get(column) for column in DEAL_COLUMNS}

    def test_extra_fields_are_ignored(self) -> None:
        noisy = changed(DEAL, Contact={"Id": 501, "Name": "\x00"}, StartAmount="n/a", CurrencyId=None,
                        PersonId=[1, 2])
        assert deal_row(noisy) == deal_row(DEAL)

    @pytest.mark.parametrize(("status_id", "status"), [(1, "open"), (2, "won"), (3, "lost")])
    def test_status_id_maps_to_status(self, status_id: int, status: str) -> None:
        assert row_of(changed(DEAL, StatusId=status_id))["status"] == status

    @pytest.mark.parametrize("status_id", [0, 4, -1, None, MISSING, True, "2", 2.0, [2]],
                             ids=["0", "4", "-1", "null", "missing", "bool", "str", "float", "list"])
    def test_other_status_is_rejected(self, status_id: Any) -> None:
        rejected(deal_row(changed(DEAL, StatusId=status_id)), "StatusId")

    @pytest.mark.parametrize("field", ["ContactId", "PipelineId", "StageId", "OwnerId"])
    @pytest.mark.parametrize("value", [None, MISSING], ids=["null", "missing"])
    def test_optional_ids_may_be_null_or_missing(self, field: str, value: Any) -> None:
        row = deal_row(changed(DEAL, **{field: value}))
        column = {"ContactId": "customer_id"}.get(field, field.replace("Id", "_id").lower())
        assert dict(zip(DEAL_COLUMNS, row, strict=True))[column] is None

    @pytest.mark.parametrize("field", ["ContactId", "PipelineId", "StageId", "OwnerId"])
    @pytest.mark.parametrize("value", [-(2**63), BIGINT_MAX])
    def test_optional_ids_take_any_bigint(self, field: str, value: int) -> None:
        assert value in deal_row(changed(DEAL, **{field: value}))

    @pytest.mark.parametrize("field", ["ContactId", "PipelineId", "StageId", "OwnerId"])
    @pytest.mark.parametrize("value", ["501", 501.0, True, False, [501], {"Id": 501}, 2**63, -(2**63) - 1],
                             ids=["str", "float", "true", "false", "list", "dict", "bigint+1", "bigint-1"])
    def test_optional_ids_of_other_types_or_too_big_are_rejected(self, field: str, value: Any) -> None:
        rejected(deal_row(changed(DEAL, **{field: value})), f"{field}:")

    def test_contact_id_becomes_customer_id(self) -> None:
        assert row_of(changed(DEAL, ContactId=BIGINT_MAX))["customer_id"] == BIGINT_MAX

    @pytest.mark.parametrize("field", ["CreateDate", "LastUpdateDate"])
    @pytest.mark.parametrize("value", [None, MISSING], ids=["null", "missing"])
    def test_required_dates_missing_are_rejected(self, field: str, value: Any) -> None:
        rejected(deal_row(changed(DEAL, **{field: value})), f"{field}: missing")

    @pytest.mark.parametrize("value", [None, MISSING], ids=["null", "missing"])
    def test_finish_date_may_be_null_or_missing(self, value: Any) -> None:
        assert row_of(changed(DEAL, FinishDate=value))["closed_at"] is None

    @pytest.mark.parametrize("field", ["CreateDate", "LastUpdateDate", "FinishDate"])
    @pytest.mark.parametrize(
        ("value", "fragment"),
        [
            ("2024-13-01", "not an ISO 8601 date: '2024-13-01'"),
            ("2024-13-01T00:00:00-03:00", "not a valid date: '2024-13-01T00:00:00-03:00' (month"),
            ("", "not an ISO 8601 date: ''"),
            (1678203584957, "expected an ISO 8601 date string, got int 1678203584957"),
            (True, "expected an ISO 8601 date string, got bool True"),
            ({"date": "2023-01-01"}, "expected an ISO 8601 date string, got dict"),
            ("9999-12-31T23:59:59-03:00", "out of range"),
        ],
    )
    def test_bad_dates_are_rejected_naming_the_field(self, field: str, value: Any, fragment: str) -> None:
        rejected(deal_row(changed(DEAL, **{field: value})), f"{field}: {fragment}")

    def test_created_at_is_the_instant_of_create_date(self) -> None:
        row = row_of(changed(DEAL, CreateDate="2023-12-31T23:59:59.9-03:00"))
        assert row["created_at"] == utc(2024, 1, 1, 2, 59, 59, 900000)
        assert row["created_at"].astimezone(SAO_PAULO).year == 2023

    def test_first_problem_in_column_order_is_reported(self) -> None:
        reject = rejected(deal_row(changed(DEAL, StatusId=9, CreateDate="x")), "StatusId")
        assert "CreateDate" not in reject.reason


class TestIds:
    @pytest.mark.parametrize(
        ("convert", "base"),
        [(deal_row, DEAL), (lambda r: contact_row(r, CLIENT_TAG), CONTACT), (deal_listing_row, LISTING)],
        ids=["deals", "contacts", "listing"],
    )
    @pytest.mark.parametrize(
        ("value", "record_id", "fragment"),
        [
            (MISSING, None, "Id: missing"),
            (None, None, "Id: missing"),
            (True, "True", "Id: expected an integer, got bool True"),
            (False, "False", "got bool False"),
            ("1001", "'1001'", "got str '1001'"),
            (1001.0, "1001.0", "got float 1001.0"),
            ([1001], "[1001]", "got list [1001]"),
            (0, "0", "Id: must be positive, got 0"),
            (-5, "-5", "Id: must be positive, got -5"),
            (2**63, str(2**63), "Id: out of bigint range"),
            (10**40, str(10**40), "Id: out of bigint range"),
        ],
        ids=["missing", "null", "true", "false", "str", "float", "list", "zero", "negative", "bigint+1",
             "huge"],
    )
    def test_bad_id_is_rejected(
        self, convert, base, value: Any, record_id: str | None, fragment: str
    ) -> None:
        reject = rejected(convert(changed(base, Id=value)), fragment)
        assert reject.record_id == record_id

    @pytest.mark.parametrize("value", [1, BIGINT_MAX])
    def test_id_from_one_to_bigint_max_is_kept(self, value: int) -> None:
        assert deal_row(changed(DEAL, Id=value))[0] == value
        assert contact_row(changed(CONTACT, Id=value), CLIENT_TAG)[0] == value
        assert deal_listing_row(changed(LISTING, Id=value))[0] == value

    def test_reject_of_a_valid_id_carries_it_as_text(self) -> None:
        assert rejected(deal_row(changed(DEAL, StatusId=7))).record_id == "1001"


class TestAmount:
    @pytest.mark.parametrize(
        ("amount", "expected"),
        [
            (1234.56, "1234.56"),
            (0.1 + 0.2, "0.30"),
            (0.005, "0.01"),
            (-0.005, "-0.01"),
            (0.015, "0.02"),
            (1.005, "1.01"),
            (2.675, "2.68"),
            (1.235, "1.24"),
            (-1.235, "-1.24"),
            (0.004, "0.00"),
            (-0.004, "0.00"),
            (-0.0, "0.00"),
            (1e-300, "0.00"),
            (1.23456789, "1.23"),
            (1.2, "1.20"),
            (15420.5, "15420.50"),
            (0, "0.00"),
            (100, "100.00"),
            (-250, "-250.00"),
            (9999999999999, "9999999999999.00"),
            (-9999999999999, "-9999999999999.00"),
            (9999999999999.99, "9999999999999.99"),
            (9999999999999.994, "9999999999999.99"),
            (-9999999999999.994, "-9999999999999.99"),
        ],
    )
    def test_amount_becomes_numeric_15_2_rounded_half_away_from_zero(
        self, amount: Any, expected: str
    ) -> None:
        value = row_of(changed(DEAL, Amount=amount))["deal_value"]
        assert type(value) is Decimal
        assert str(value) == expected

    @pytest.mark.parametrize("amount", [None, MISSING], ids=["null", "missing"])
    def test_null_amount_stays_null(self, amount: Any) -> None:
        assert row_of(changed(DEAL, Amount=amount))["deal_value"] is None

    @pytest.mark.parametrize(
        "amount",
        [10**13, -(10**13), 1e13, 1e300, -1e300, 9999999999999.996, 12345678901234.5, 10**400],
        ids=["10^13", "-10^13", "1e13", "1e300", "-1e300", "rounds-to-10^13", "14-digits", "10^400"],
    )
    def test_amount_too_big_for_numeric_15_2_is_rejected(self, amount: Any) -> None:
        rejected(deal_row(changed(DEAL, Amount=amount)), "Amount:", "numeric(15,2)")

    @pytest.mark.parametrize("amount", [float("nan"), float("inf"), float("-inf")],
                             ids=["nan", "inf", "-inf"])
    def test_non_finite_amount_is_rejected(self, amount: float) -> None:
        rejected(deal_row(changed(DEAL, Amount=amount)), "Amount: not a finite number")

    @pytest.mark.parametrize("amount", ["1234.56", "", True, False, [1], {"Value": 1}, Decimal("1.5")],
                             ids=["str", "empty", "true", "false", "list", "dict", "decimal"])
    def test_amount_of_another_type_is_rejected(self, amount: Any) -> None:
        rejected(deal_row(changed(DEAL, Amount=amount)), "Amount: expected a number or null, got")


HOSTILE_TEXT = [
    "",
    " ",
    "tab\there",
    "line\nbreak\r\nand\rreturn",
    "quotes ' \" `",
    "back\\slash \\N \\. \\\\",
    "'); DROP TABLE sales; --",
    "comma,semicolon;pipe|",
    "emoji 😀👍🏽👨‍👩‍👧",
    "astral 𝕏 𓀀 \U0010fffd",
    "ação ñ ü ß 中文 العربية עברית",
    "\u200b\u200d\ufeff\u2028\u2029\u00a0",
    "combining e\u0301",
    "noncharacter \uffff \ufffe",
    "control \x01\x1f\x7f\x85",
    "NULL",
    '{"json": [1, 2]}',
    "x" * 1_000_000,
]


class TestText:
    @pytest.mark.parametrize("text", HOSTILE_TEXT, ids=range(len(HOSTILE_TEXT)))
    def test_title_round_trips_unchanged(self, text: str) -> None:
        assert row_of(changed(DEAL, Title=text))["title"] == text

    @pytest.mark.parametrize("field", ["Name", "LegalName"])
    @pytest.mark.parametrize("text", HOSTILE_TEXT, ids=range(len(HOSTILE_TEXT)))
    def test_contact_names_round_trip_unchanged(self, field: str, text: str) -> None:
        column = {"Name": "name", "LegalName": "legal_name"}[field]
        assert contact_of(changed(CONTACT, **{field: text}))[column] == text

    def test_text_decoded_from_json_escapes_round_trips(self) -> None:
        title = json.loads('"\\ud83d\\ude00 caf\\u00e9 \\t \\"q\\""')
        assert row_of(changed(DEAL, Title=title))["title"] == "😀 café \t \"q\""

    @pytest.mark.parametrize("value", [None, MISSING], ids=["null", "missing"])
    def test_missing_title_is_null(self, value: Any) -> None:
        assert row_of(changed(DEAL, Title=value))["title"] is None

    @pytest.mark.parametrize("text", ["\x00", "a\x00b", "trailing\x00"])
    def test_nul_is_rejected(self, text: str) -> None:
        rejected(deal_row(changed(DEAL, Title=text)), "Title:", "PostgreSQL text cannot store NUL")

    @pytest.mark.parametrize(
        "text",
        [json.loads('"\\ud800"'), "abc\udfff", "\ud83d\ude00", "é\udc80"],
        ids=["lone-high", "lone-low", "unpaired-pair", "after-non-ascii"],
    )
    def test_lone_surrogate_is_rejected(self, text: str) -> None:
        rejected(deal_row(changed(DEAL, Title=text)), "Title:", "surrogate", "UTF-8")

    @pytest.mark.parametrize("field", ["Title", "Name", "LegalName"])
    @pytest.mark.parametrize("value", [5, 5.5, True, ["a"], {"a": 1}, b"bytes"],
                             ids=["int", "float", "bool", "list", "dict", "bytes"])
    def test_text_of_another_type_is_rejected(self, field: str, value: Any) -> None:
        if field == "Title":
            result = deal_row(changed(DEAL, Title=value))
        else:
            result = contact_row(changed(CONTACT, **{field: value}), CLIENT_TAG)
        rejected(result, f"{field}: expected text or null")

    @pytest.mark.parametrize("field", ["Name", "LegalName"])
    def test_nul_in_contact_names_is_rejected(self, field: str) -> None:
        rejected(contact_row(changed(CONTACT, **{field: "A\x00"}), CLIENT_TAG), f"{field}:", "NUL")


class TestReject:
    @pytest.mark.parametrize(
        "record",
        [
            changed(DEAL, StatusId=9),
            changed(DEAL, Title="naïve 😀 \x00 \t\n\\ \""),
            changed(DEAL, Amount=1e300),
            changed(DEAL, Id="abc", Nested={"a": [1, {"b": None}], "c": True}),
            changed(DEAL, CreateDate="2024-13-01"),
        ],
        ids=["status", "hostile-text", "huge-amount", "nested", "bad-date"],
    )
    def test_raw_is_json_equal_to_the_record(self, record: dict[str, Any]) -> None:
        reject = rejected(deal_row(record))
        assert json.loads(reject.raw) == record
        assert reject.raw == json.dumps(record, ensure_ascii=False, default=str)

    def test_raw_keeps_non_ascii_unescaped(self) -> None:
        assert "Licenças" in rejected(deal_row(changed(DEAL, StatusId=9))).raw

    def test_raw_of_a_nan_amount_reads_back_as_nan(self) -> None:
        reject = rejected(deal_row(changed(DEAL, Amount=float("nan"))))
        assert math.isnan(json.loads(reject.raw)["Amount"])

    def test_raw_of_a_lone_surrogate_is_escaped_so_it_stays_storable(self) -> None:
        record = changed(DEAL, Title="x\ud800y")
        reject = rejected(deal_row(record))
        reject.raw.encode("utf-8")
        assert json.loads(reject.raw) == record

    def test_raw_of_a_record_that_is_not_json_shaped_is_its_repr_as_json(self) -> None:
        reject = rejected(deal_row({("a", "b"): 1}), "Id: missing")
        assert json.loads(reject.raw) == repr({("a", "b"): 1})

    @pytest.mark.parametrize("record", [None, [DEAL], "Id=1", 1001, 1.5, True],
                             ids=["null", "list", "str", "int", "float", "bool"])
    @pytest.mark.parametrize("convert", [deal_row, lambda r: contact_row(r, CLIENT_TAG), deal_listing_row],
                             ids=["deals", "contacts", "listing"])
    def test_record_that_is_not_an_object_is_rejected(self, convert, record: Any) -> None:
        reject = rejected(convert(record), "record: expected a JSON object, got")
        assert reject.record_id is None
        assert json.loads(reject.raw) == record

    @pytest.mark.parametrize(
        "record",
        [
            changed(DEAL, Id="\x00\ud800", StatusId=9),
            changed(DEAL, CreateDate="\x00\udfff"),
            changed(DEAL, Amount="\x00\ud800"),
            changed(DEAL, StatusId="\ud800"),
        ],
        ids=["id", "date", "amount", "status"],
    )
    def test_record_id_and_reason_are_storable_in_postgresql_text(self, record: dict[str, Any]) -> None:
        reject = rejected(deal_row(record))
        for text in (reject.reason, reject.record_id or ""):
            assert "\x00" not in text
            text.encode("utf-8")

    def test_reason_of_a_huge_value_stays_short(self) -> None:
        reject = rejected(deal_row(changed(DEAL, CreateDate="9" * 1_000_000)))
        assert len(reject.reason) < 300

    def test_reject_is_frozen(self) -> None:
        reject = rejected(deal_row(changed(DEAL, StatusId=9)))
        with pytest.raises(dataclasses.FrozenInstanceError):
            reject.reason = "other"  # type: ignore[misc]


class TestContactRow:
    def test_full_contact(self) -> None:
        assert contact_row(CONTACT, CLIENT_TAG) == (
            501, "ACME", "ACME Comércio Ltda", "12345678000190", "01310100", True,
            utc(2022, 12, 15, 17, 59, 45, 130000), utc(2023, 3, 23, 3), "{}",
        )

    def test_minimal_contact_has_nulls_and_is_not_a_client(self) -> None:
        record = {"Id": 9, "CreateDate": "2023-03-07T12:39:44Z", "LastUpdateDate": "2023-03-07T12:39:44Z"}
        assert contact_row(record, CLIENT_TAG) == (9, None, None, None, None, False,
                                                   utc(2023, 3, 7, 12, 39, 44), utc(2023, 3, 7, 12, 39, 44), "{}")

    @pytest.mark.parametrize(
        ("cnpj", "register", "expected"),
        [
            ("12.345.678/0001-90", None, "12345678000190"),
            ("12345678000190", None, "12345678000190"),
            (" 12 345 678 0001 90 ", None, "12345678000190"),
            ("12.345.678/0001-90", "98.765.432/0001-10", "12345678000190"),
            (None, "12.345.678/0001-90", "12345678000190"),
            (MISSING, "12345678000190", "12345678000190"),
            ("", "12345678000190", "12345678000190"),
            ("n/a", "12.345.678/0001-90", "12345678000190"),
            ("123.456.789-09", "12.345.678/0001-90", "12345678000190"),
            ("123.456.789-09", None, None),
            (None, "123.456.789-09", None),
            ("12.345.678/0001-901", None, None),
            ("garbage", "more garbage", None),
            (None, None, None),
            (12345678000190, None, "12345678000190"),
            (1234567000190, None, None),
            (-12345678000190, None, None),
            (True, None, None),
            (["12345678000190"], None, None),
            ("\u0661\u0662\u0663\u0664\u0665\u0666\u0667\u0668\u0660\u0660\u0660\u0661\u0669\u0660",
             None, None),
        ],
        ids=["formatted", "bare", "spaced", "cnpj-wins", "register-only", "cnpj-missing", "cnpj-empty",
             "cnpj-garbage", "cnpj-is-cpf", "cpf-only", "register-cpf", "15-digits", "garbage", "none",
             "int", "int-13-digits", "negative", "bool", "list", "arabic-digits"],
    )
    def test_cnpj_is_14_digits_from_cnpj_or_register(
        self, cnpj: Any, register: Any, expected: str | None
    ) -> None:
        assert contact_of(changed(CONTACT, CNPJ=cnpj, Register=register))["cnpj"] == expected

    @pytest.mark.parametrize(
        ("zip_code", "expected"),
        [
            (1310100, "01310100"),
            (12345678, "12345678"),
            (99999999, "99999999"),
            (123, "00000123"),
            (1, "00000001"),
            ("01310100", "01310100"),
            ("1310100", "01310100"),
            ("01310-100", "01310100"),
            (" 01310100 ", "01310100"),
            (123456789, None),
            (-1310100, None),
            (0, None),
            ("00000000", None),
            ("", None),
            ("abc", None),
            ("0131-0100", None),
            ("123456789", None),
            ("-1310100", None),
            (1310100.0, None),
            (True, None),
            (None, None),
            (MISSING, None),
            ([1310100], None),
            ("\u0660\u0661\u0663\u0661\u0660\u0661\u0660\u0660", None),
        ],
    )
    def test_zip_code_is_8_digits_or_null(self, zip_code: Any, expected: str | None) -> None:
        assert contact_of(changed(CONTACT, ZipCode=zip_code))["zip_code"] == expected

    @pytest.mark.parametrize(
        ("tags", "expected"),
        [
            ([{"TagId": CLIENT_TAG}], True),
            ([{"Tag": {"Id": CLIENT_TAG, "Name": "Cliente"}}], True),
            ([{"TagId": None, "Tag": {"Id": CLIENT_TAG}}], True),
            ([None, 1, "x", {"Tag": "x"}, {"TagId": CLIENT_TAG}], True),
            ([{"TagId": 1, "Tag": {"Id": 1}}], False),
            ([], False),
            (None, False),
            (MISSING, False),
            ("40006184", False),
            ({"TagId": CLIENT_TAG}, False),
            ([{"TagId": str(CLIENT_TAG)}], False),
            ([{"TagId": float(CLIENT_TAG)}], False),
            ([{"Tag": {"Id": str(CLIENT_TAG)}}], False),
            ([[CLIENT_TAG]], False),
        ],
        ids=["tag-id", "tag-object", "tag-object-only", "after-malformed", "other-tags", "empty", "null",
             "missing", "str", "dict", "tag-id-str", "tag-id-float", "tag-object-str", "nested-list"],
    )
    def test_is_client_when_a_tag_carries_the_client_tag(self, tags: Any, expected: bool) -> None:
        assert contact_of(changed(CONTACT, Tags=tags))["is_client"] is expected

    def test_client_tag_is_the_one_configured(self) -> None:
        record = changed(CONTACT, Tags=[{"TagId": 7}])
        assert contact_of(record, tag=7)["is_client"] is True
        assert contact_of(record, tag=CLIENT_TAG)["is_client"] is False

    def test_bool_tag_id_does_not_match_tag_one(self) -> None:
        assert contact_of(changed(CONTACT, Tags=[{"TagId": True}]), tag=1)["is_client"] is False

    @pytest.mark.parametrize("field", ["CreateDate", "LastUpdateDate"])
    @pytest.mark.parametrize(("value", "fragment"), [(MISSING, "missing"), ("yesterday", "not an ISO 8601")])
    def test_bad_dates_are_rejected_naming_the_field(self, field: str, value: Any, fragment: str) -> None:
        reject = rejected(contact_row(changed(CONTACT, **{field: value}), CLIENT_TAG), f"{field}: {fragment}")
        assert reject.record_id == "501"

    def test_naive_dates_from_webhooks_are_sao_paulo_time(self) -> None:
        row = contact_of(changed(CONTACT, CreateDate="2023-03-07T12:39:44.957"))
        assert row["created_at"] == utc(2023, 3, 7, 15, 39, 44, 957000)


class TestDealListingRow:
    def test_listing_row(self) -> None:
        assert deal_listing_row(LISTING) == (
            1001, utc(2023, 4, 1, 9), utc(2023, 3, 7, 15, 39, 44, 957000), None, "lost", False, Decimal("10.00"),
            "{}",
        )

    def test_listing_of_a_full_deal_matches_the_deal_row(self) -> None:
        deal = row_of(DEAL)
        assert deal_listing_row(DEAL) == tuple(deal[column] for column in DEAL_LISTING_COLUMNS)

    @pytest.mark.parametrize(
        ("changes", "fragment"),
        [
            ({"StatusId": 4}, "StatusId"),
            ({"Amount": "10"}, "Amount"),
            ({"Amount": float("nan")}, "Amount"),
            ({"CreateDate": None}, "CreateDate: missing"),
            ({"LastUpdateDate": "2023-02-30T00:00:00Z"}, "LastUpdateDate: not a valid date"),
        ],
    )
    def test_bad_listing_record_is_rejected(self, changes: dict[str, Any], fragment: str) -> None:
        rejected(deal_listing_row(changed(LISTING, **changes)), fragment)

    def test_null_amount_stays_null(self) -> None:
        row = deal_listing_row(changed(LISTING, Amount=None))
        assert row[DEAL_LISTING_COLUMNS.index("deal_value")] is None

    def test_finish_date_is_not_read(self) -> None:
        assert type(deal_listing_row(changed(LISTING, FinishDate="garbage"))) is tuple


def test_same_instant_whatever_the_offset_or_fraction_spelling() -> None:
    spellings = ["2023-03-07T12:39:44.957-03:00", "2023-03-07T12:39:44.9570000-03:00",
                 "2023-03-07T15:39:44.957Z", "2023-03-07T15:39:44.957000000+00:00", "2023-03-07T12:39:44.957"]
    assert {parse_instant(text) for text in spellings} == {utc(2023, 3, 7, 15, 39, 44, 957000)}


def test_one_microsecond_apart_stays_apart() -> None:
    first = parse_instant("2023-03-07T12:39:44.123456-03:00")
    assert parse_instant("2023-03-07T12:39:44.1234574-03:00") - first == timedelta(microseconds=1)


def test_fast_path_agrees_with_the_strict_parser_on_mutated_dates() -> None:
    """parse_instant skips the pattern for Ploomes' usual shape; it must never accept more or differ."""
    def outcome(parse, text: str) -> datetime | None:
        try:
            return parse(text)
        except ValueError:
            return None

    seeds = ["2023-03-07T12:39:44.957-03:00", "2023-03-30T18:00:00-03:00", "2023-03-07T12:39:44.123456+00:00",
             "9999-12-31T23:59:59.999999-03:00", "0001-01-01T00:00:00+00:00", "2023-W10-2T12:39:44-03:00",
             "2023-03-07T12:39:44.1234567-03:00", "2023-03-07T12:39:44.999999999-03:00",
             "9999-12-31T23:59:59.9999995+00:00", "2023-03-07T12:39:44.1234567Z"]
    alphabet = [*"0123456789-:T.+Z W,a\u0662\u00b2\n", "", "00", "-0", ":0"]
    rng = random.Random(20240101)
    for _ in range(20_000):
        text = rng.choice(seeds)
        for _ in range(rng.choice([1, 1, 2, 3])):
            at, char, how = rng.randrange(len(text) + 1), rng.choice(alphabet), rng.random()
            text = (text[:at] + char + text[at + 1:] if how < 0.6 else text[:at] + text[at + 1:] if how < 0.8
                    else text[:at] + char + text[at:])
        assert outcome(parse_instant, text) == outcome(_parse_strict, text), text

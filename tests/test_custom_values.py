"""A record's custom values (``OtherProperties``) as ``custom_fields`` keeps them, typed by the account's fields."""

from __future__ import annotations

import json
from typing import Any

import pytest

from ploomes_sync.records import FieldSpec, Invalid, Reject, custom_values
from ploomes_sync.streams import ReadContext
from tests.support.streams import DEALS

VALUE_PROPERTIES = ("StringValue", "BigStringValue", "IntegerValue", "DecimalValue", "DateTimeValue", "BoolValue",
                    "ObjectValueId", "ObjectValueName", "UserValueId", "UserValueName", "ContactValueId",
                    "ProductValueId")
FIELDS = {
    "deal_text": FieldSpec("String"), "deal_notes": FieldSpec("BigString"), "deal_beds": FieldSpec("Integer"),
    "deal_discount": FieldSpec("Decimal"), "deal_close": FieldSpec("DateTime"), "deal_urgent": FieldSpec("Bool"),
    "deal_segment": FieldSpec("Integer", options=True), "deal_lines": FieldSpec("Integer", options=True,
                                                                                  multiple=True),
    "deal_engineer": FieldSpec("Integer"),
}


def item(key: str, **values: Any) -> dict[str, Any]:
    """One value as the API renders it: every value property present, null when unused."""
    return {"Id": 7, "FieldKey": key, "DealId": 1001, **dict.fromkeys(VALUE_PROPERTIES), **values}


class TestTypedByTheField:
    @pytest.mark.parametrize(("key", "values", "expected"), [
        ("deal_text", {"StringValue": "Hospital São Lucas"}, "Hospital São Lucas"),
        ("deal_notes", {"BigStringValue": "linha 1\nlinha 2"}, "linha 1\nlinha 2"),
        ("deal_beds", {"IntegerValue": 120}, 120),
        ("deal_discount", {"DecimalValue": 12.5}, 12.5),
        ("deal_discount", {"DecimalValue": 3}, 3),
        ("deal_urgent", {"BoolValue": False}, False),
        ("deal_segment", {"IntegerValue": 4100101, "ObjectValueId": 4100101, "ObjectValueName": "Hospital"}, 4100101),
        ("deal_segment", {"IntegerValue": 4100102}, 4100102),  # an older account: the id in IntegerValue only
        ("deal_engineer", {"UserValueId": 40010003, "UserValueName": "Ana"}, 40010003),
    ], ids=["text", "long text", "integer", "decimal", "decimal given whole", "false", "option", "option as integer",
            "user"])
    def test_each_native_type_keeps_its_json_type(self, key: str, values: dict[str, Any], expected: Any) -> None:
        assert custom_values([item(key, **values)], FIELDS) == {key: expected}

    @pytest.mark.parametrize(("given", "expected"), [
        ("2024-03-07T12:39:44.957-03:00", "2024-03-07T12:39:44.957-03:00"),
        ("2024-03-07T15:39:44Z", "2024-03-07T12:39:44-03:00"),
        ("2024-03-07T12:39:44", "2024-03-07T12:39:44-03:00"),  # naive: São Paulo time, as Ploomes means it
        ("2024-03-07T12:39:44.1234567-03:00", "2024-03-07T12:39:44.123-03:00"),
    ])
    def test_a_date_is_an_iso_instant_at_sao_paulo_offset(self, given: str, expected: str) -> None:
        assert custom_values([item("deal_close", DateTimeValue=given)], FIELDS) == {"deal_close": expected}

    def test_a_field_taking_several_options_is_a_list_even_of_one(self) -> None:
        many = [item("deal_lines", ObjectValueId=4100401), item("deal_lines", ObjectValueId=4100403)]
        assert custom_values(many, FIELDS) == {"deal_lines": [4100401, 4100403]}
        assert custom_values(many[:1], FIELDS) == {"deal_lines": [4100401]}

    def test_a_value_cleared_in_ploomes_has_no_key(self) -> None:
        assert custom_values([item("deal_text"), item("deal_beds", IntegerValue=None)], FIELDS) == {}
        assert custom_values(None, FIELDS) == {} and custom_values([], FIELDS) == {}

    def test_the_value_the_field_names_wins_over_stray_properties(self) -> None:
        # Ploomes fills IntegerValue beside ObjectValueId; an integer field reads IntegerValue alone
        assert custom_values([item("deal_beds", IntegerValue=5, StringValue="5")], FIELDS) == {"deal_beds": 5}

    def test_a_field_created_since_the_last_read_of_fields_is_typed_by_its_value(self) -> None:
        values = [item("deal_new_text", StringValue="novo"),
                  item("deal_new_date", DateTimeValue="2024-01-02T03:04:05Z"),
                  item("deal_new_option", ObjectValueId=99, ObjectValueName="x", IntegerValue=99)]
        assert custom_values(values, {}) == {"deal_new_text": "novo", "deal_new_date": "2024-01-02T00:04:05-03:00",
                                             "deal_new_option": 99}


class TestRefusedWithTheItemNamed:
    @pytest.mark.parametrize(("values", "fragment"), [
        ({"OtherProperties": {"deal_text": "compact"}}, "OtherProperties: expected a list of values"),
        ({"OtherProperties": ["x"]}, "OtherProperties[0]: expected a JSON object"),
        ({"OtherProperties": [{"StringValue": "no key"}]}, "OtherProperties[0].FieldKey"),
        ({"OtherProperties": [item("deal_beds", IntegerValue="12")]}, "OtherProperties[0].IntegerValue"),
        ({"OtherProperties": [item("deal_beds", IntegerValue=True)]}, "OtherProperties[0].IntegerValue"),
        ({"OtherProperties": [item("deal_discount", DecimalValue=float("nan"))]}, "DecimalValue: expected a finite"),
        ({"OtherProperties": [item("deal_close", DateTimeValue="2024-02-30T00:00:00Z")]}, "DateTimeValue"),
        ({"OtherProperties": [item("deal_urgent", BoolValue="sim")]}, "BoolValue: expected true or false"),
        ({"OtherProperties": [item("deal_text", StringValue="a\x00b")]}, "StringValue: contains NUL"),
        ({"OtherProperties": [item("deal_segment", ObjectValueId=2**70)]}, "ObjectValueId: expected an id"),
    ], ids=["compact", "not an object", "no key", "text integer", "bool integer", "nan", "bad date", "text bool",
            "nul", "huge id"])
    def test_a_malformed_value_sets_the_record_aside(self, values: dict[str, Any], fragment: str) -> None:
        record = {"Id": 1001, "StatusId": 1, "CreateDate": "2023-03-07T12:39:44Z",
                  "LastUpdateDate": "2023-03-07T12:39:44Z", **values}
        row = DEALS.row(record, ReadContext(fields=FIELDS))
        assert isinstance(row, Reject) and fragment in row.reason, row
        with pytest.raises(Invalid):
            custom_values(values["OtherProperties"], FIELDS)


class TestTheDealRow:
    RECORD = {"Id": 1001, "StatusId": 3, "LossReasonId": 70003, "CreateDate": "2023-03-07T12:39:44Z",
              "LastUpdateDate": "2023-03-07T12:39:44Z",
              "OtherProperties": [item("deal_urgent", BoolValue=True), item("deal_segment", ObjectValueId=4100101)]}

    def test_custom_values_are_json_text_with_sorted_keys_and_the_loss_reason_a_column(self) -> None:
        row = dict(zip(DEALS.column_names, DEALS.row(self.RECORD, ReadContext(fields=FIELDS)), strict=True))
        assert row["custom_fields"] == '{"deal_segment":4100101,"deal_urgent":true}'
        assert json.loads(row["custom_fields"]) == {"deal_urgent": True, "deal_segment": 4100101}
        assert row["loss_reason_id"] == 70003

    def test_equal_values_in_another_order_are_the_same_row(self) -> None:
        reordered = {**self.RECORD, "OtherProperties": self.RECORD["OtherProperties"][::-1]}
        context = ReadContext(fields=FIELDS)
        assert DEALS.row(reordered, context) == DEALS.row(self.RECORD, context)

    def test_reads_expand_other_properties_and_select_the_loss_reason(self) -> None:
        assert "OtherProperties" in (DEALS.expand_option or "").split(",")
        assert "LossReasonId" in DEALS.select and "OtherProperties" not in DEALS.select

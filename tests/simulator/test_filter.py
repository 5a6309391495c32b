"""$filter over real HTTP, checked against the truth computed independently in the test."""

from __future__ import annotations

import operator
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from ploomes_simulator import RunningSimulator
from tests.simulator.sim_support import Api

SAO_PAULO = ZoneInfo("America/Sao_Paulo")
OPS: dict[str, Callable[[Any, Any], bool]] = {
    "eq": operator.eq,
    "ne": operator.ne,
    "gt": operator.gt,
    "ge": operator.ge,
    "lt": operator.lt,
    "le": operator.le,
}


def ids(records: list[dict[str, Any]]) -> list[int]:
    return [record["Id"] for record in records]


def instant(text: str) -> datetime:
    return datetime.fromisoformat(text)


class TestComparisonOperators:
    @pytest.mark.parametrize("op", list(OPS))
    def test_integer_comparison(self, api: Api, truth_deals: list[dict], op: str) -> None:
        expected = [d for d in truth_deals if OPS[op](d["StatusId"], 2)]
        assert expected
        assert ids(api.keyset(user_filter=f"StatusId {op} 2")) == ids(expected)

    @pytest.mark.parametrize("op", list(OPS))
    def test_decimal_comparison_never_matches_null(self, api: Api, truth_deals: list[dict], op: str) -> None:
        expected = [d for d in truth_deals if d["Amount"] is not None and OPS[op](d["Amount"], 2500.5)]
        assert ids(api.keyset(user_filter=f"Amount {op} 2500.5")) == ids(expected)

    def test_literal_on_the_left_is_mirrored(self, api: Api, truth_deals: list[dict]) -> None:
        expected = [d for d in truth_deals if d["Amount"] is not None and d["Amount"] > 5000]
        assert ids(api.keyset(user_filter="5000 lt Amount")) == ids(expected)

    def test_string_equality_with_escaped_quote(self, api: Api, sim: RunningSimulator) -> None:
        created = sim.admin.create_deal(Title='It\'s "quoted"')
        found = api.values("/Deals", **{"$filter": "Title eq 'It''s \"quoted\"'"})
        assert ids(found) == [created["Id"]]

    def test_contains_startswith_endswith(self, api: Api, truth_deals: list[dict]) -> None:
        assert ids(api.keyset(user_filter="contains(Title,'São')")) == ids(
            [d for d in truth_deals if "São" in d["Title"]]
        )
        assert ids(api.keyset(user_filter="startswith(Title,'Pedido')")) == ids(
            [d for d in truth_deals if d["Title"].startswith("Pedido")]
        )
        assert ids(api.keyset(user_filter="endswith(Title,'Ltda')")) == ids(
            [d for d in truth_deals if d["Title"].endswith("Ltda")]
        )


class TestLogic:
    def test_and_or_parentheses_change_the_meaning(self, api: Api, truth_deals: list[dict]) -> None:
        def big(d: dict) -> bool:
            return d["Amount"] is not None and d["Amount"] >= 3000

        grouped = api.keyset(user_filter="(StatusId eq 2 or StatusId eq 3) and Amount ge 3000")
        ungrouped = api.keyset(user_filter="StatusId eq 2 or StatusId eq 3 and Amount ge 3000")
        assert ids(grouped) == ids([d for d in truth_deals if d["StatusId"] in (2, 3) and big(d)])
        assert ids(ungrouped) == ids(
            [d for d in truth_deals if d["StatusId"] == 2 or (d["StatusId"] == 3 and big(d))]
        )
        assert ids(grouped) != ids(ungrouped)

    def test_not(self, api: Api, truth_deals: list[dict]) -> None:
        assert ids(api.keyset(user_filter="not (StatusId eq 1)")) == ids(
            [d for d in truth_deals if d["StatusId"] != 1]
        )

    def test_nested_parentheses(self, api: Api, truth_deals: list[dict]) -> None:
        found = api.keyset(
            user_filter="((StatusId eq 1) and ((OwnerId eq 40010001) or (OwnerId eq 40010002)))"
        )
        expected = [d for d in truth_deals if d["StatusId"] == 1 and d["OwnerId"] in (40010001, 40010002)]
        assert expected and ids(found) == ids(expected)


class TestNull:
    def test_eq_null_and_ne_null(self, api: Api, truth_deals: list[dict]) -> None:
        nulls = [d for d in truth_deals if d["Amount"] is None]
        assert nulls
        assert ids(api.keyset(user_filter="Amount eq null")) == ids(nulls)
        assert ids(api.keyset(user_filter="Amount ne null")) == ids(
            [d for d in truth_deals if d["Amount"] is not None]
        )
        assert ids(api.keyset(user_filter="null eq ContactId")) == ids(
            [d for d in truth_deals if d["ContactId"] is None]
        )

    def test_ne_value_does_not_match_null(self, api: Api, truth_deals: list[dict]) -> None:
        found = api.keyset(user_filter="Amount ne 1")
        assert ids(found) == ids([d for d in truth_deals if d["Amount"] is not None])

    def test_ordering_against_null_matches_nothing(self, api: Api) -> None:
        assert api.keyset(user_filter="Amount gt null") == []


class TestDatetime:
    def test_literal_offsets_compare_instants(self, api: Api, truth_deals: list[dict]) -> None:
        deal = next(d for d in truth_deals[350:] if len(d["CreateDate"]) < 33)  # not a 7-digit fraction
        moment = instant(deal["CreateDate"])
        as_utc = moment.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
        as_plus_two = moment.astimezone(ZoneInfo("Etc/GMT-2")).isoformat(timespec="microseconds")
        for literal in (as_utc, as_plus_two, deal["CreateDate"]):
            found = api.values("/Deals", **{"$filter": f"CreateDate eq {literal}"})
            assert deal["Id"] in ids(found), literal
            later = api.keyset(user_filter=f"CreateDate gt {literal}")
            assert ids(later) == ids([d for d in truth_deals if instant(d["CreateDate"]) > moment])

    @pytest.mark.parametrize(
        "literal",
        [
            "2024-06-01T00:00:00-03:00",
            "2024-06-01T03:00:00Z",
            "2024-06-01T03:00:00.000+00:00",
            "2024-06-01T00:00-03:00",
        ],
    )
    def test_same_instant_in_any_notation(self, api: Api, truth_deals: list[dict], literal: str) -> None:
        cut = datetime(2024, 6, 1, tzinfo=SAO_PAULO)
        found = api.keyset(user_filter=f"LastUpdateDate ge {literal}")
        assert ids(found) == ids([d for d in truth_deals if instant(d["LastUpdateDate"]) >= cut])

    def test_fraction_in_literal_is_exact(self, api: Api, sim: RunningSimulator) -> None:
        deal = sim.admin.create_deal(CreateDate="2023-05-05T10:00:00.1234567-03:00")
        window = f"Id eq {deal['Id']}"
        assert api.values("/Deals", **{"$filter": f"{window} and CreateDate eq 2023-05-05T13:00:00.1234567Z"})
        assert not api.values(
            "/Deals", **{"$filter": f"{window} and CreateDate gt 2023-05-05T10:00:00.1234567-03:00"}
        )
        assert api.values(
            "/Deals", **{"$filter": f"{window} and CreateDate gt 2023-05-05T10:00:00.1234566-03:00"}
        )
        assert api.values(
            "/Deals", **{"$filter": f"{window} and CreateDate lt 2023-05-05T10:00:00.12346-03:00"}
        )

    def test_year_window_in_sao_paulo_time(self, api: Api, truth_deals: list[dict]) -> None:
        found = api.keyset(
            user_filter="CreateDate ge 2024-01-01T00:00:00-03:00 and CreateDate lt 2025-01-01T00:00:00-03:00"
        )
        expected = [d for d in truth_deals if instant(d["CreateDate"]).astimezone(SAO_PAULO).year == 2024]
        assert ids(found) == ids(expected)
        utc_year = [d for d in truth_deals if instant(d["CreateDate"]).astimezone(UTC).year == 2024]
        assert ids(expected) != ids(utc_year)  # the data holds the time zone trap

    def test_null_dates_never_compare(self, api: Api, truth_deals: list[dict]) -> None:
        found = api.keyset(user_filter="FinishDate lt 2100-01-01T00:00:00Z")
        assert ids(found) == ids([d for d in truth_deals if d["FinishDate"] is not None])


class TestHostileRecords:
    def test_mismatched_types_are_false_except_null_checks(self, api: Api, sim: RunningSimulator) -> None:
        raw = sim.admin.create_deal_raw(
            {"Id": 499999999, "Amount": "12,50", "StatusId": "2", "CreateDate": "ontem", "Title": 7}
        )
        assert raw["Amount"] == "12,50"
        window = "Id eq 499999999"
        for expression in (
            "Amount gt 0",
            "Amount lt 0",
            "Amount ne 1",
            "StatusId eq 2",
            "CreateDate lt 2100-01-01T00:00:00Z",
            "Title eq '7'",
            "contains(Title,'7')",
            "Amount eq null",
            "ContactId ne null",
        ):
            assert api.values("/Deals", **{"$filter": f"{window} and {expression}"}) == [], expression
        for expression in ("Amount ne null", "ContactId eq null", "StatusId ne null"):
            assert len(api.values("/Deals", **{"$filter": f"{window} and {expression}"})) == 1, expression

"""The pieces under the HTTP layer: date parsing, the filter parser, keyset detection."""

from __future__ import annotations

import pytest

from ploomes_simulator.dates import parse_ticks, render, sao_paulo_epoch
from ploomes_simulator.odata import ODataError, parse_query
from ploomes_simulator.schema import CONTACTS, DEALS


class TestDates:
    @pytest.mark.parametrize(
        ("text", "same_as"),
        [
            ("2023-03-07T12:39:44.957-03:00", "2023-03-07T15:39:44.957Z"),
            ("2023-03-07T12:39:44.9570000-03:00", "2023-03-07T15:39:44.957+00:00"),
            ("2022-12-15T14:59:45.13-03:00", "2022-12-15T17:59:45.130Z"),
            ("2023-03-23T00:00:00-03:00", "2023-03-23T03:00Z"),
        ],
    )
    def test_instants_ignore_notation(self, text: str, same_as: str) -> None:
        assert parse_ticks(text) == parse_ticks(same_as) is not None

    def test_seventh_fraction_digit_counts(self) -> None:
        first = parse_ticks("2023-03-07T12:39:44.9570001-03:00")
        second = parse_ticks("2023-03-07T12:39:44.957-03:00")
        assert first is not None and second is not None and first - second == 1

    @pytest.mark.parametrize(
        "text",
        ["2023-03-07T12:39:44", "2023-03-07", "2023-03-07 12:39:44-03:00", "2023-02-30T00:00:00Z", "x", ""],
    )
    def test_not_an_offset_datetime(self, text: str) -> None:
        assert parse_ticks(text) is None

    def test_render_uses_sao_paulo_time(self) -> None:
        assert render(sao_paulo_epoch(2024, 1, 1) - 110) == "2023-12-31T23:58:10-03:00"
        assert render(sao_paulo_epoch(2024, 1, 1, 0, 1), ".957") == "2024-01-01T00:01:00.957-03:00"


class TestQueryParsing:
    def test_keyset_conjunct_is_detected(self) -> None:
        query = parse_query(
            [("$filter", "(StatusId eq 2 or Amount eq null) and Id gt 400000123")], DEALS, True
        )
        assert (query.id_min, query.id_max) == (400000124, None)
        assert query.residual is not None and query.ordered_by_id

    def test_bounds_combine(self) -> None:
        query = parse_query([("$filter", "Id ge 10 and 20 gt Id and Id gt 12 and Id le 30")], DEALS, True)
        assert (query.id_min, query.id_max, query.residual) == (13, 19, None)

    def test_id_inside_or_is_not_a_bound(self) -> None:
        query = parse_query([("$filter", "Id gt 5 or StatusId eq 1")], DEALS, True)
        assert (query.id_min, query.id_max) == (None, None)

    def test_count_ignored_when_unsupported(self) -> None:
        assert parse_query([("$count", "true")], DEALS, True).count
        assert not parse_query([("$count", "whatever")], DEALS, False).count

    def test_top_capped(self) -> None:
        assert parse_query([("$top", "1000")], DEALS, True).top == 300

    @pytest.mark.parametrize(
        "expand", ["Tags", "Tags($expand=Tag)", "Tags($expand=Tag($select=Id,Name))", "Tags,OtherProperties"]
    )
    def test_contact_expansions(self, expand: str) -> None:
        assert parse_query([("$expand", expand)], CONTACTS, True).expand.tags is not None

    @pytest.mark.parametrize(
        "expression",
        ["Tags/any(t: t/TagId eq 1)", "Id eq 1 and and Id eq 2", "tolower(Title) eq 'x'", "Title eq 'x' or"],
    )
    def test_unsupported_or_broken_filters(self, expression: str) -> None:
        with pytest.raises(ODataError):
            parse_query([("$filter", expression)], DEALS, True)

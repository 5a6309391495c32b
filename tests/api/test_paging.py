"""Keyset paging: the paginator strategy and the $select helper."""

from __future__ import annotations

import pytest

from ploomes_sync.api.errors import PloomesPagingError
from ploomes_sync.api.paging import KeysetPaginator, id_range_filter, select_with_key


def records(*ids: object) -> list[dict[str, object]]:
    return [{"Id": value, "Title": f"deal {value}"} for value in ids]


class TestSelectWithKey:
    def test_adds_the_key_in_front_when_missing(self) -> None:
        assert select_with_key(["Title", "Amount"]) == ["Id", "Title", "Amount"]

    def test_keeps_a_list_that_has_the_key(self) -> None:
        assert select_with_key(["Title", "Id"]) == ["Title", "Id"]

    def test_accepts_a_comma_separated_string(self) -> None:
        assert select_with_key(" Title, Amount ,") == ["Id", "Title", "Amount"]

    @pytest.mark.parametrize("select", [None, [], ""])
    def test_nothing_selected_means_every_field(self, select: object) -> None:
        assert select_with_key(select) is None  # type: ignore[arg-type]

    def test_range_filters_combine_with_the_callers(self) -> None:
        assert id_range_filter(None, None, None) is None
        assert id_range_filter("A eq 1", None, None) == "A eq 1"
        assert id_range_filter(None, 5, None) == "Id gt 5"
        assert id_range_filter("A eq 1 or B eq 2", 5, 9) == "(A eq 1 or B eq 2) and Id gt 5 and Id le 9"

    def test_leaves_the_callers_list_alone(self) -> None:
        select = ["Title"]

        select_with_key(select)

        assert select == ["Title"]


class TestKeysetPaginator:
    def test_first_request_orders_by_id_and_keeps_the_callers_filter(self) -> None:
        params = {"$skip": "600", "$select": "Id"}

        KeysetPaginator(page_size=50, base_filter="StatusId eq 2").init_request(params)

        assert params == {"$select": "Id", "$orderby": "Id", "$top": "50", "$count": "true",
                          "$filter": "StatusId eq 2"}

    def test_next_requests_start_after_the_last_id(self) -> None:
        paginator = KeysetPaginator(page_size=3, base_filter="StatusId eq 2 or StatusId eq 3")
        params: dict[str, str] = {}
        paginator.init_request(params)

        paginator.update_state(records(5, 9, 12))
        paginator.update_request(params)

        assert params["$filter"] == "(StatusId eq 2 or StatusId eq 3) and Id gt 12"
        assert "$count" not in params  # asked on the first page only
        assert paginator.last_key == 12 and paginator.pages == 1

    def test_without_a_filter_only_the_bound_is_sent(self) -> None:
        paginator = KeysetPaginator()
        params: dict[str, str] = {}
        paginator.init_request(params)
        assert "$filter" not in params

        paginator.update_state(records(1))
        paginator.update_request(params)

        assert params["$filter"] == "Id gt 1"

    def test_a_short_page_alone_is_not_the_end(self) -> None:
        paginator = KeysetPaginator(page_size=300)

        paginator.update_state(records(1, 2))

        assert paginator.has_next_page  # the API may cut $top silently

    def test_an_empty_page_ends_the_read(self) -> None:
        paginator = KeysetPaginator(page_size=2)
        paginator.update_state(records(1, 2))

        paginator.update_state([])

        assert not paginator.has_next_page and paginator.last_key == 2 and paginator.pages == 1

    def test_a_page_shorter_than_one_the_api_filled_ends_the_read(self) -> None:
        paginator = KeysetPaginator(page_size=3)
        paginator.update_state(records(1, 2, 3), full_page=3)
        assert paginator.has_next_page

        paginator.update_state(records(4), full_page=3)

        assert not paginator.has_next_page

    def test_as_many_records_as_the_first_page_counted_end_the_read(self) -> None:
        paginator = KeysetPaginator(page_size=2)
        paginator.update_state(records(1, 2), count=3)
        assert paginator.has_next_page and paginator.expected == 3

        paginator.update_state(records(9))

        assert not paginator.has_next_page  # no empty page needed

    def test_a_range_ends_on_its_upper_bound_and_sends_both_bounds(self) -> None:
        paginator = KeysetPaginator(page_size=2, base_filter="StatusId eq 2", after=10, upto=20)
        params: dict[str, str] = {}
        paginator.init_request(params)
        assert params["$filter"] == "(StatusId eq 2) and Id gt 10 and Id le 20"

        paginator.update_state(records(15, 20))

        assert not paginator.has_next_page

    def test_splitting_hands_the_upper_part_to_a_new_paginator(self) -> None:
        paginator = KeysetPaginator(page_size=2, after=0, upto=100)
        paginator.update_state(records(5, 9), count=50)

        upper = paginator.split(60)

        assert (paginator.after, paginator.upto, paginator.expected) == (9, 60, None)
        assert (upper.after, upper.upto, upper.pages) == (60, 100, 0)
        with pytest.raises(ValueError, match="does not lie inside"):
            paginator.split(9)
        with pytest.raises(PloomesPagingError, match="within the range"):
            paginator.update_state(records(61))

    @pytest.mark.parametrize("page", [records(3, 2), records(4, 4)])
    def test_ids_out_of_order_break_the_contract(self, page: list[dict[str, object]]) -> None:
        with pytest.raises(PloomesPagingError, match="ascending Id order"):
            KeysetPaginator().update_state(page)

    def test_a_page_that_does_not_move_past_the_last_id_breaks_the_contract(self) -> None:
        paginator = KeysetPaginator()
        paginator.update_state(records(10, 20))

        with pytest.raises(PloomesPagingError, match="past 20"):
            paginator.update_state(records(15, 30))

    @pytest.mark.parametrize("value", [None, "7", 7.0, True])
    def test_an_id_that_is_not_an_integer_breaks_the_contract(self, value: object) -> None:
        with pytest.raises(PloomesPagingError, match="integer Id"):
            KeysetPaginator().update_state(records(1, value))

    @pytest.mark.parametrize("size", [0, 301])
    def test_page_size_must_be_within_the_apis_limit(self, size: int) -> None:
        with pytest.raises(ValueError, match="between 1 and 300"):
            KeysetPaginator(page_size=size)

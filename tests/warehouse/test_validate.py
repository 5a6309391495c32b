"""ploomes_sync.warehouse.compare_by_year: Ploomes' listing against public.sales per São Paulo year."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from ploomes_sync import warehouse

from .factories import as_listing, deal, listed

SAO_PAULO = timezone(timedelta(hours=-3))
CUTOFF = datetime(2025, 6, 1, tzinfo=UTC)
BEFORE = CUTOFF - timedelta(days=1)


def sp(year: int, month: int, day: int, hour: int = 12, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=SAO_PAULO)


def setup(conn, deals: list[tuple], listing: list[tuple]) -> None:
    warehouse.stage_rows(conn, "deals", "r1", deals)
    warehouse.merge_sales(conn, "r1", watermark=None)
    warehouse.stage_rows(conn, "deal_listing", "r1", listing)


def by_year(table: warehouse.YearTable) -> dict:
    return {row["year"]: row for row in table.rows}


class TestCompareByYear:
    def test_a_deal_created_late_on_new_years_eve_counts_in_its_sao_paulo_year(self, conn):
        late = deal(1, created_at=sp(2023, 12, 31, 23, 30), status="won", deal_value=Decimal("5.00"),
                    updated_at=BEFORE)
        assert late[8].astimezone(UTC).year == 2024
        early = deal(2, created_at=sp(2024, 1, 1, 0, 0), updated_at=BEFORE)
        setup(conn, [late, early], [as_listing(late), as_listing(early)])
        table = warehouse.compare_by_year(conn, "r1", cutoff=CUTOFF)
        got = [(r["year"], r["ploomes_deals"], r["warehouse_deals"], r["ploomes_won_revenue"])
               for r in table.rows]
        assert got == [(2023, 1, 1, Decimal("5.00")), (2024, 1, 1, Decimal("0.00"))]
        assert table.mismatches == [] and table.excluded == 0

    def test_a_missing_deal_and_a_wrong_won_value_are_mismatches(self, conn):
        deals = [
            deal(1, created_at=sp(2022, 5, 1), status="won", deal_value=Decimal("100.00"), updated_at=BEFORE),
            deal(2, created_at=sp(2023, 5, 1), updated_at=BEFORE),
            deal(3, created_at=sp(2024, 5, 1), status="lost", deal_value=Decimal("7.00"), updated_at=BEFORE),
        ]
        listing = [
            listed(1, created_at=sp(2022, 5, 1), status="won", deal_value=Decimal("90.50"),
                   updated_at=BEFORE),  # Ploomes says 90.50
            as_listing(deals[1]),
            as_listing(deals[2]),
            listed(4, created_at=sp(2023, 7, 1), updated_at=BEFORE),  # missing from the warehouse
        ]
        setup(conn, deals, listing)
        table = warehouse.compare_by_year(conn, "r1", cutoff=CUTOFF)
        rows = by_year(table)
        assert (rows[2022]["revenue_diff"], rows[2022]["deals_diff"]) == (Decimal("9.50"), 0)
        assert not rows[2022]["ok"]
        assert (rows[2023]["ploomes_deals"], rows[2023]["warehouse_deals"]) == (2, 1)
        assert rows[2023]["deals_diff"] == -1
        assert rows[2024]["ok"] is True
        assert [row["year"] for row in table.mismatches] == [2022, 2023]

    def test_deals_changed_after_the_cutoff_are_left_out_of_both_sides(self, conn):
        stale = deal(1, created_at=sp(2024, 3, 1), status="open", updated_at=BEFORE)
        setup(conn, [stale, deal(2, created_at=sp(2024, 3, 1), updated_at=BEFORE)], [
            listed(1, created_at=sp(2024, 3, 1), status="won", deal_value=Decimal("80.00"),
                   updated_at=CUTOFF + timedelta(minutes=1)),  # won in Ploomes after this run read it
            listed(2, created_at=sp(2024, 3, 1), updated_at=BEFORE),
            listed(3, created_at=sp(2024, 3, 2), updated_at=CUTOFF),  # created at the cutoff: next run's
        ])
        table = warehouse.compare_by_year(conn, "r1", cutoff=CUTOFF)
        assert table.excluded == 2 and table.mismatches == []
        assert (table.rows[0]["ploomes_deals"], table.rows[0]["warehouse_deals"]) == (1, 1)

    def test_when_every_deal_is_left_out_the_table_is_empty_and_still_counts_them(self, conn):
        setup(conn, [], [listed(1, created_at=sp(2024, 3, 1), updated_at=CUTOFF)])
        table = warehouse.compare_by_year(conn, "r1", cutoff=CUTOFF)
        assert table.rows == [] and table.excluded == 1

    def test_deals_another_run_loaded_newer_than_the_cutoff_are_left_out_of_both_sides(self, conn):
        newer = deal(1, created_at=sp(2024, 3, 1), status="won", deal_value=Decimal("80.00"),
                     updated_at=CUTOFF + timedelta(minutes=1))  # a concurrent run loaded a later version
        setup(conn, [newer, deal(2, created_at=sp(2024, 3, 1), updated_at=BEFORE)], [
            listed(1, created_at=sp(2024, 3, 1), status="open", updated_at=BEFORE),  # what this run read
            listed(2, created_at=sp(2024, 3, 1), updated_at=BEFORE),
        ])
        table = warehouse.compare_by_year(conn, "r1", cutoff=CUTOFF)
        assert table.excluded == 1 and table.mismatches == []
        assert (table.rows[0]["ploomes_deals"], table.rows[0]["warehouse_deals"]) == (1, 1)

    def test_years_present_on_either_side_appear(self, conn):
        setup(conn, [deal(1, created_at=sp(2021, 1, 1), updated_at=BEFORE)],
              [listed(2, created_at=sp(2022, 1, 1), updated_at=BEFORE)])
        table = warehouse.compare_by_year(conn, "r1", cutoff=CUTOFF)
        assert [(r["year"], r["ploomes_deals"], r["warehouse_deals"]) for r in table.rows] == [(2021, 0, 1),
                                                                                                (2022, 1, 0)]

    def test_a_range_limits_both_sides(self, conn):
        deals = [deal(1, created_at=sp(2023, 6, 1), updated_at=BEFORE),
                 deal(2, created_at=sp(2024, 6, 1), updated_at=BEFORE)]
        setup(conn, deals, [as_listing(deals[1])])  # a range run lists only 2024
        table = warehouse.compare_by_year(conn, "r1", cutoff=CUTOFF, created_from=sp(2024, 1, 1, 0),
                                          created_to=sp(2025, 1, 1, 0))
        assert [(r["year"], r["ok"]) for r in table.rows] == [(2024, True)]

    def test_a_run_without_a_listing_raises(self, conn):
        with pytest.raises(warehouse.StageMissing):
            warehouse.compare_by_year(conn, "r1", cutoff=CUTOFF)


class TestYearTable:
    TABLE = warehouse.YearTable(rows=[
        {"year": 2023, "ploomes_deals": 10, "warehouse_deals": 10, "deals_diff": 0,
         "ploomes_won_revenue": Decimal("1000.00"), "warehouse_won_revenue": Decimal("1000.00"),
         "revenue_diff": Decimal("0.00"), "ok": True},
        {"year": 2024, "ploomes_deals": 5, "warehouse_deals": 4, "deals_diff": -1,
         "ploomes_won_revenue": Decimal("12.50"), "warehouse_won_revenue": Decimal("2.50"),
         "revenue_diff": Decimal("-10.00"), "ok": False},
    ], excluded=3)

    def test_to_json_is_json_safe_with_decimals_as_strings(self):
        data = self.TABLE.to_json()
        assert json.loads(json.dumps(data)) == data
        assert data[1]["revenue_diff"] == "-10.00" and data[1]["ok"] is False and data[1]["year"] == 2024

    def test_format_is_a_fixed_width_table_naming_the_mismatch(self):
        text = self.TABLE.format()
        lines = text.splitlines()
        assert lines[0].split() == ["year", "ploomes_deals", "warehouse_deals", "deals_diff",
                                    "ploomes_won_revenue", "warehouse_won_revenue", "revenue_diff", "ok"]
        assert len({len(line) for line in lines[:3]}) == 1
        assert lines[2].split() == ["2024", "5", "4", "-1", "12.50", "2.50", "-10.00", "MISMATCH"]
        assert "3 deals changed in Ploomes" in text

    def test_an_empty_table_formats_and_has_no_mismatch(self):
        empty = warehouse.YearTable()
        assert empty.format() == "(no deals on either side)"
        assert empty.mismatches == [] and empty.to_json() == []

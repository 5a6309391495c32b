"""ploomes_sync.warehouse.validate: the run's listing against public, record by record, per São Paulo year."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import psycopg
import pytest

from ploomes_sync import warehouse
from tests.support.streams import CONTACTS, DEALS, STREAMS

from .factories import as_listing, contact, contact_listed, deal, list_ploomes, listed, load, now, reconcile

SAO_PAULO = timezone(timedelta(hours=-3))
READ = datetime(2025, 6, 1, tzinfo=UTC)  # when this run's read began, in Ploomes' clock
BEFORE = READ - timedelta(days=1)
AFTER = READ + timedelta(minutes=1)


def sp(year: int, month: int, day: int, hour: int = 12, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=SAO_PAULO)


def check(conn, deals: list[tuple], listing: list[tuple], **kwargs) -> warehouse.Validation:
    load(conn, "r1", deals)
    return warehouse.validate(conn, DEALS, list_ploomes(conn, "run", listing, read_started_at=READ, **kwargs))


def years(result: warehouse.Validation) -> dict:
    return {row["year"]: row for row in result.years}


class TestCheckDeals:
    def test_a_deal_created_late_on_new_years_eve_counts_in_its_sao_paulo_year(self, conn):
        late = deal(1, created_at=sp(2023, 12, 31, 23, 30), status="won", deal_value=Decimal("5.00"),
                    updated_at=BEFORE)
        assert late[DEALS.column_names.index("created_at")].astimezone(UTC).year == 2024
        early = deal(2, created_at=sp(2024, 1, 1, 0, 0), updated_at=BEFORE)
        result = check(conn, [late, early], [as_listing(late), as_listing(early)])
        got = [(r["year"], r["ploomes_deals"], r["warehouse_deals"], r["ploomes_won_revenue"]) for r in result.years]
        assert got == [(2023, 1, 1, Decimal("5.00")), (2024, 1, 1, Decimal("0.00"))]
        assert result.ok and result.compared == 2 and sum(result.left_out.values()) == 0

    def test_a_missing_deal_and_a_wrong_won_value_are_mismatches(self, conn):
        deals = [
            deal(1, created_at=sp(2022, 5, 1), status="won", deal_value=Decimal("100.00"), updated_at=BEFORE),
            deal(2, created_at=sp(2023, 5, 1), updated_at=BEFORE),
            deal(3, created_at=sp(2024, 5, 1), status="lost", deal_value=Decimal("7.00"), updated_at=BEFORE),
        ]
        listing = [
            listed(1, created_at=sp(2022, 5, 1), status="won", deal_value=Decimal("90.50"), updated_at=BEFORE),
            as_listing(deals[1]),
            as_listing(deals[2]),
            listed(4, created_at=sp(2023, 7, 1), updated_at=BEFORE),  # missing from the warehouse
        ]
        result = check(conn, deals, listing)
        rows = years(result)
        assert (rows[2022]["revenue_diff"], rows[2022]["differing"], rows[2022]["ok"]) == (Decimal("9.50"), 1, False)
        assert (rows[2023]["ploomes_deals"], rows[2023]["warehouse_deals"], rows[2023]["deals_diff"]) == (2, 1, -1)
        assert rows[2024]["ok"] is True
        assert not result.ok and result.differing == 2 and result.examples == [1, 4]

    def test_values_that_cancel_out_in_the_yearly_sums_still_fail_the_check(self, conn):
        deals = [deal(1, status="won", deal_value=Decimal("10.00"), updated_at=BEFORE),
                 deal(2, status="won", deal_value=Decimal("20.00"), updated_at=BEFORE)]
        listing = [listed(1, status="won", deal_value=Decimal("20.00"), updated_at=BEFORE),
                   listed(2, status="won", deal_value=Decimal("10.00"), updated_at=BEFORE)]
        result = check(conn, deals, listing)
        [row] = result.years
        assert row["revenue_diff"] == 0 and row["deals_diff"] == 0  # the sums agree ...
        assert not row["ok"] and result.differing == 2  # ... the deals do not

    def test_a_change_made_before_the_read_began_that_the_warehouse_lacks_fails_the_check(self, conn):
        # the bug class of a window that defers visible changes: the check must not hide it
        result = check(conn, [deal(1, status="open", updated_at=BEFORE - timedelta(hours=1))],
                       [listed(1, status="won", updated_at=BEFORE)])
        assert not result.ok and result.left_out["changed_since"] == 0

    def test_deals_changed_after_the_read_began_are_left_out_of_both_sides_and_counted(self, conn):
        stale = deal(1, created_at=sp(2024, 3, 1), status="open", updated_at=BEFORE)
        newer_here = deal(3, created_at=sp(2024, 3, 1), status="won", updated_at=AFTER)  # another run loaded it
        result = check(conn, [stale, deal(2, created_at=sp(2024, 3, 1), updated_at=BEFORE), newer_here], [
            listed(1, created_at=sp(2024, 3, 1), status="won", deal_value=Decimal("80.00"), updated_at=AFTER),
            listed(2, created_at=sp(2024, 3, 1), updated_at=BEFORE),
            listed(3, created_at=sp(2024, 3, 1), status="open", updated_at=BEFORE),
            listed(4, created_at=sp(2024, 3, 2), updated_at=AFTER),  # created after the read began
        ])
        assert result.ok and result.left_out["changed_since"] == 3 and result.compared == 1
        assert (result.years[0]["ploomes_deals"], result.years[0]["warehouse_deals"]) == (1, 1)
        assert "changed in Ploomes after this run read them" in result.format()

    def test_rows_another_run_wrote_or_archived_after_the_listing_began_are_left_out(self, conn):
        load(conn, "r0", [deal(1, updated_at=BEFORE), deal(2, updated_at=BEFORE)])
        started = now(conn)
        load(conn, "other", [deal(1, title="x", status="won", updated_at=BEFORE)])  # written since: differs
        listing = list_ploomes(conn, "run", [listed(1, updated_at=BEFORE), listed(2, updated_at=BEFORE),
                                             listed(3, updated_at=BEFORE)], started_wh=started, read_started_at=READ)
        load(conn, "r3", [deal(3, updated_at=BEFORE)])
        # another run lists after deal 3 was deleted in Ploomes, and archives it
        reconcile(conn, DEALS, list_ploomes(conn, "other", [listed(1), listed(2)]), lambda *c: None)
        result = warehouse.validate(conn, DEALS, listing)
        assert result.ok and result.left_out["written_since"] == 1 and result.left_out["archived_since"] == 1

    def test_records_this_run_set_aside_are_left_out(self, conn):
        load(conn, "r1", [deal(1, updated_at=BEFORE), deal(2, status="won", updated_at=BEFORE)])
        listing = list_ploomes(conn, "run", [listed(1, updated_at=BEFORE)], read_started_at=READ)
        warehouse.stage_rejects(conn, "run", "deals_listing", [("2", "StatusId: got 9", "{}")])
        result = warehouse.validate(conn, DEALS, listing)
        assert result.ok and result.left_out["rejected"] == 1 and result.compared == 1

    def test_years_present_on_either_side_appear(self, conn):
        result = check(conn, [deal(1, created_at=sp(2021, 1, 1), updated_at=BEFORE)],
                       [listed(2, created_at=sp(2022, 1, 1), updated_at=BEFORE)])
        assert [(r["year"], r["ploomes_deals"], r["warehouse_deals"]) for r in result.years] == [(2021, 0, 1),
                                                                                                  (2022, 1, 0)]

    def test_a_date_range_limits_the_warehouse_side(self, conn):
        deals = [deal(1, created_at=sp(2023, 6, 1), updated_at=BEFORE),
                 deal(2, created_at=sp(2024, 6, 1), updated_at=BEFORE)]
        result = check(conn, deals, [as_listing(deals[1])], created_from=sp(2024, 1, 1, 0),
                       created_to=sp(2025, 1, 1, 0))
        assert [(r["year"], r["ok"]) for r in result.years] == [(2024, True)]

    def test_only_listed_id_ranges_are_compared(self, conn):
        deals = [deal(n, updated_at=BEFORE) for n in (1, 5, 9)]
        result = check(conn, deals, [as_listing(deals[1])], method="count", ranges=[
            warehouse.IdRange(None, 4, listed=False, ploomes_count=1, warehouse_count=1),
            warehouse.IdRange(4, 8, listed=True),
            warehouse.IdRange(8, None, listed=False, ploomes_count=1, warehouse_count=1)])
        assert result.ok and result.compared == 1

    def test_a_run_without_a_listing_raises(self, conn):
        listing = warehouse.Listing("r1", "deals", "listing", "full", now(conn), READ)
        with pytest.raises(warehouse.StageMissing):
            warehouse.validate(conn, DEALS, listing)


class TestCheckRows:
    def test_contacts_are_compared_by_id_and_last_update(self, conn):
        load(conn, "c1", [contact(1, updated_at=BEFORE), contact(2, updated_at=BEFORE)], stream=CONTACTS)
        listing = list_ploomes(conn, "run", [contact_listed(1, BEFORE), contact_listed(2, BEFORE - timedelta(1)),
                                             contact_listed(3, AFTER)], stream=CONTACTS, read_started_at=READ)
        result = warehouse.validate(conn, CONTACTS, listing)
        assert (result.compared, result.differing, result.left_out["changed_since"]) == (2, 1, 1)
        assert result.examples == [2] and not result.ok


class TestReport:
    RESULT = warehouse.Validation("deals", compared=15, differing=1, left_out={"changed_since": 3}, examples=[7],
                                  years=[
        {"year": 2023, "ploomes_deals": 10, "warehouse_deals": 10, "deals_diff": 0,
         "ploomes_won_revenue": Decimal("1000.00"), "warehouse_won_revenue": Decimal("1000.00"),
         "revenue_diff": Decimal("0.00"), "differing": 0, "ok": True},
        {"year": 2024, "ploomes_deals": 5, "warehouse_deals": 4, "deals_diff": -1,
         "ploomes_won_revenue": Decimal("12.50"), "warehouse_won_revenue": Decimal("2.50"),
         "revenue_diff": Decimal("-10.00"), "differing": 1, "ok": False},
    ])

    def test_to_json_is_json_safe_with_decimals_as_strings(self):
        data = self.RESULT.to_json()
        assert json.loads(json.dumps(data)) == data
        assert data[1]["revenue_diff"] == "-10.00" and data[1]["ok"] is False and data[1]["year"] == 2024

    def test_format_is_a_table_naming_the_mismatch_what_was_left_out_and_examples(self):
        text = self.RESULT.format()
        lines = text.splitlines()
        assert lines[0].split() == ["year", "ploomes_deals", "warehouse_deals", "deals_diff", "ploomes_won_revenue",
                                    "warehouse_won_revenue", "revenue_diff", "differing", "ok"]
        assert lines[2].split() == ["2024", "5", "4", "-1", "12.50", "2.50", "-10.00", "1", "MISMATCH"]
        assert "3 changed in Ploomes" in text and "first ids): 7" in text

    def test_the_table_is_a_pandas_frame(self):
        frame = self.RESULT.frame()
        assert list(frame["year"]) == [2023, 2024] and frame["deals_diff"].sum() == -1


@pytest.mark.parametrize("stream", list(STREAMS), ids=lambda s: s.name)
def test_the_check_of_every_stream_compares_exactly_the_columns_its_listing_reads(stream, db_url):
    """validate/records.sql is a template: its columns come from the spec, nothing is restated."""
    import re

    from ploomes_sync.warehouse.statements import statement

    with psycopg.connect(db_url) as conn:
        text = statement("validate/records.sql", stream, listing="listing").as_string(conn)
    listing = re.search(r"SELECT DISTINCT ON \(id\) ([^\n]+)\n", text).group(1)
    compared = re.search(r"\(([^()]*)\) IS NOT DISTINCT FROM \(([^()]*)\)", text)
    assert [c.strip().strip('"') for c in listing.split(",")] == list(stream.listed)
    assert [c.strip().removeprefix('"l".').strip('"') for c in compared.group(1).split(",")] == list(stream.listed)
    assert [c.strip().removeprefix('"w".').strip('"') for c in compared.group(2).split(",")] == list(stream.listed)

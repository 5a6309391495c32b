"""ploomes_sync.warehouse.staging: COPY of typed rows and rejects, exactly, in short transactions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import psycopg
import pytest

from ploomes_sync import streams, warehouse
from ploomes_sync.records import Reject
from ploomes_sync.warehouse.statements import statement
from tests.support.streams import CONTACTS, DEALS

from .factories import DEAL_LISTING, contact, deal, listed, plain, stage

HOSTILE = [
    "tab\there", "new\nline", "carriage\r\nreturn", "back\\slash \\N \\t \\\\", "quotes ' \" `",
    "emoji 🎉👩‍💻",
    "control \x01\x02\x1f\x7f", "", " leading and trailing ", "\\.", "end with backslash\\", "x" * 100_000,
    "ção acentuação", "null", "NULL", "\u2028\u2029",
]


def staged(conn: psycopg.Connection, table: str, columns: str = "*") -> list[tuple]:
    """Rows of a ploomes_sync table, sorted."""
    with conn.transaction():
        return sorted(conn.execute(f"SELECT {columns} FROM ploomes_sync.{table}").fetchall(),
                      key=lambda row: [(value is None, value) for value in row])


class TestStageRows:
    def test_hostile_text_round_trips_byte_for_byte(self, conn):
        rows = [deal(n + 1, title=text) for n, text in enumerate(HOSTILE)] + [deal(999, title=None)]
        assert warehouse.stage_rows(conn, DEALS, "r1", rows) == len(rows)
        titles = [row[1] for row in staged(conn, "stage_deals", "id, title")]
        assert titles == HOSTILE + [None]

    def test_decimals_nones_booleans_and_datetimes_round_trip(self, conn):
        local = timezone(timedelta(hours=-3))
        deals = [
            deal(1, deal_value=Decimal("12345678901.99"),
                 closed_at=datetime(2023, 12, 31, 23, 30, tzinfo=local),
                 created_at=datetime(2020, 2, 29, 0, 0, 0, 123456, tzinfo=UTC)),
            deal(2, customer_id=None, deal_value=None, pipeline_id=None, stage_id=None, owner_id=None,
                 status="won", closed_at=None),
            deal(3, deal_value=Decimal("-0.01"), customer_id=2**63 - 1),
        ]
        contacts = [contact(1, cnpj=None, zip_code=None, is_client=True),
                    contact(2, name=None, is_client=False)]
        warehouse.stage_rows(conn, DEALS, "r1", deals)
        warehouse.stage_rows(conn, CONTACTS, "r1", contacts)
        warehouse.stage_rows(conn, DEAL_LISTING, "r1", [listed(5, deal_value=None), listed(6)])
        assert [row[1:] for row in staged(conn, "stage_deals")] == [plain(row) for row in deals]
        assert [row[1:] for row in staged(conn, "stage_contacts")] == [plain(row, CONTACTS) for row in contacts]
        listing = [row[1:] for row in staged(conn, "stage_deals_listing")]
        assert listing == [plain(listed(5, deal_value=None), DEAL_LISTING), plain(listed(6), DEAL_LISTING)]
        assert {row[0] for row in staged(conn, "stage_deals")} == {"r1"}

    def test_rows_stream_from_a_generator_and_register_records_them_as_staged(self, conn):
        def rows():
            for n in range(1, 20_001):
                yield deal(n)

        assert warehouse.stage_rows(conn, DEALS, "r1", rows()) == 20_000
        with pytest.raises(warehouse.StageMissing):  # not complete until registered
            warehouse.staged(conn, DEALS, "r1")
        warehouse.register_stage(conn, "deals", "r1", 20_000, read_started_at=None, read_started_wh=None)
        assert warehouse.staged(conn, DEALS, "r1").row_count == 20_000
        assert conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE

    def test_an_empty_extract_is_still_recorded_as_staged(self, conn):
        assert stage(conn, DEALS, "r1", []) == 0
        assert warehouse.merge(conn, DEALS, "r1", move_watermark=False).staged == 0

    def test_a_long_read_commits_every_few_pages_and_holds_no_transaction_between_them(self, conn, reader):
        seen_from_outside = []

        def rows():
            for n in range(1, 101):
                if n in (45, 95):  # the extract waiting for the next page from the API
                    seen_from_outside.append(reader.execute(
                        "SELECT count(*) FROM ploomes_sync.stage_deals").fetchone()[0])
                yield deal(n)

        assert warehouse.stage_rows(conn, DEALS, "r1", rows(), batch_rows=40) == 100
        assert seen_from_outside == [40, 80]  # committed batch by batch

    def test_a_failure_midway_registers_nothing_and_a_retry_starts_clean(self, conn):
        def rows():
            yield from (deal(n) for n in range(1, 6))
            raise ConnectionError("the API went away")

        with pytest.raises(ConnectionError):
            warehouse.stage_rows(conn, DEALS, "r1", rows(), batch_rows=2)
        assert conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
        assert staged(conn, "stage_runs", "run_id, stream") == []  # the merge refuses it
        with pytest.raises(warehouse.StageMissing):
            warehouse.merge(conn, DEALS, "r1")
        assert stage(conn, DEALS, "r1", [deal(9)]) == 1  # a retried extract clears what was committed
        assert [row[0] for row in staged(conn, "stage_deals", "id")] == [9]

    def test_a_row_of_the_wrong_width_is_refused_with_its_position(self, conn):
        with pytest.raises(ValueError, match=f"deals row 2 has 3 fields, expected {len(DEALS.columns)}"):
            warehouse.stage_rows(conn, DEALS, "r1", [deal(1), (1, 2, 3)])
        assert staged(conn, "stage_deals") == []

    def test_an_unknown_stream_is_refused(self, conn):
        with pytest.raises(KeyError, match="Unknown stream 'sales'"):
            streams.registry()["sales"]

    def test_an_autocommit_connection_works_the_same(self, reader):
        assert warehouse.stage_rows(reader, DEALS, "r1", [deal(1)]) == 1
        assert reader.execute("SELECT count(*) FROM ploomes_sync.stage_deals").fetchone() == (1,)

    def test_a_hundred_thousand_rows_stage_exactly(self, conn):
        rows = [deal(n, title=f"Deal {n}\twith a tab", deal_value=Decimal(n) / 100)
                for n in range(1, 100_001)]
        assert warehouse.stage_rows(conn, DEALS, "r1", rows) == 100_000
        with conn.transaction():
            assert conn.execute("SELECT count(*), sum(deal_value) FROM ploomes_sync.stage_deals").fetchone() == (
                100_000, sum(Decimal(n) / 100 for n in range(1, 100_001)))


class TestRejects:
    def test_rejects_round_trip_from_reject_objects_and_tuples(self, conn):
        raw = '{"Id": 7, "Title": "tab\\there \U0001f389", "CreateDate": "2024-13-45"}'
        rejects = [Reject("7", "CreateDate: not an instant: '2024-13-45'", raw),
                   (None, "record: expected a JSON object, got list", "[1, 2]")]
        assert warehouse.stage_rejects(conn, "r1", "deals", iter(rejects)) == 2
        with conn.transaction():
            rows = conn.execute("SELECT run_id, stream, record_id, reason, raw, rejected_at IS NOT NULL "
                                "FROM ploomes_sync.rejects ORDER BY id").fetchall()
        assert rows == [("r1", "deals", "7", rejects[0].reason, raw, True),
                        ("r1", "deals", None, rejects[1][1], "[1, 2]", True)]

    def test_rejects_go_in_on_a_second_connection_while_the_rows_stream(self, conn, connect):
        reject_conn = connect()

        def rows():  # what an extract does: records that fail to convert are set aside page by page
            for n in range(1, 1001):
                if n % 100 == 0:
                    warehouse.stage_rejects(reject_conn, "r1", "deals", [(str(n), "bad", "{}")])
                else:
                    yield deal(n)

        assert warehouse.stage_rows(conn, DEALS, "r1", rows()) == 990
        assert len(staged(conn, "rejects")) == 10

    def test_clearing_a_stream_clears_its_rejects_only(self, conn):
        warehouse.stage_rejects(conn, "r1", "deals", [("1", "bad", "{}")])
        warehouse.stage_rejects(conn, "r1", "contacts", [("2", "bad", "{}")])
        warehouse.stage_rejects(conn, "r2", "deals", [("3", "bad", "{}")])
        warehouse.clear_stage(conn, DEALS, "r1")
        with conn.transaction():
            left = conn.execute("SELECT record_id FROM ploomes_sync.rejects ORDER BY 1").fetchall()
        assert left == [("2",), ("3",)]


class TestHousekeeping:
    def test_clear_stage_removes_only_that_runs_stream(self, conn):
        stage(conn, DEALS, "r1", [deal(1), deal(2)])
        stage(conn, CONTACTS, "r1", [contact(1)])
        stage(conn, DEALS, "r2", [deal(3)])
        assert warehouse.clear_stage(conn, DEALS, "r1") == 2
        assert [row[0] for row in staged(conn, "stage_deals", "run_id")] == ["r2"]
        assert len(staged(conn, "stage_contacts")) == 1
        with pytest.raises(warehouse.StageMissing):
            warehouse.merge(conn, DEALS, "r1")

    def test_drop_stage_removes_every_stream_of_the_run_but_keeps_its_rejects(self, conn):
        stage(conn, DEALS, "r1", [deal(1)])
        stage(conn, CONTACTS, "r1", [contact(1)])
        stage(conn, DEAL_LISTING, "r1", [listed(1)])
        stage(conn, DEALS, "r2", [deal(2)])
        warehouse.stage_rejects(conn, "r1", "deals", [("9", "bad", "{}")])
        assert warehouse.drop_stage(conn, "r1", (DEALS, CONTACTS)) == 3
        assert [row[0] for row in staged(conn, "stage_deals", "run_id")] == ["r2"]
        assert staged(conn, "stage_contacts") == staged(conn, "stage_deals_listing") == []
        assert staged(conn, "stage_runs", "run_id, stream") == [("r2", "deals")]
        assert len(staged(conn, "rejects")) == 1

    @pytest.mark.parametrize("older_than", [timedelta(days=2), 2.0])
    def test_purge_removes_only_runs_staged_longer_ago_than_the_limit(self, conn, older_than):
        for run_id in ("abandoned", "recent"):
            stage(conn, DEALS, run_id, [deal(1), deal(2)])
            stage(conn, DEAL_LISTING, run_id, [listed(1)])
        with conn.transaction():
            conn.execute("UPDATE ploomes_sync.stage_runs SET staged_at = now() - interval '3 days' "
                         "WHERE run_id = 'abandoned'")
        assert warehouse.purge_stale_stage(conn, (DEALS, CONTACTS), older_than=older_than) == 3
        assert {row[0] for row in staged(conn, "stage_deals", "run_id")} == {"recent"}
        assert {row[0] for row in staged(conn, "stage_runs", "run_id")} == {"recent"}

    def test_purge_refuses_a_limit_that_is_not_positive(self, conn):
        with pytest.raises(ValueError):
            warehouse.purge_stale_stage(conn, (DEALS,), older_than=timedelta(0))


class TestRowContract:
    @pytest.mark.parametrize("stream", [DEALS, CONTACTS, DEALS.listing(), CONTACTS.listing()], ids=lambda s: s.name)
    def test_copy_statements_list_the_run_id_then_the_streams_columns(self, conn, stream):
        text = statement("staging/copy.sql", stream).as_string(conn)
        text = next(line for line in text.splitlines() if line.startswith("COPY"))
        listed_columns = text[text.index("(") + 1:text.index(")")].replace(" ", "").replace('"', "").split(",")
        assert listed_columns == ["run_id", *stream.column_names]
        assert f"ploomes_sync.{stream.stage}" in text.replace('"', "")

    def test_stream_rows_stage_as_they_are(self, conn):
        row = DEALS.row({"Id": 5, "Title": "Tab\there", "ContactId": 9, "Amount": 10.005,
                                "StatusId": 2, "PipelineId": 1, "StageId": 2, "OwnerId": 3,
                                "CreateDate": "2023-12-31T23:30:00-03:00",
                                "LastUpdateDate": "2024-01-02T10:00:00.5-03:00", "FinishDate": None})
        assert type(row) is tuple, row
        warehouse.stage_rows(conn, DEALS, "r1", [row])
        assert staged(conn, "stage_deals")[0][1:] == plain(row)
        assert row[DEALS.column_names.index("created_at")] == datetime(2024, 1, 1, 2, 30, tzinfo=UTC)

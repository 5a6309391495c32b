"""The DAG, run by Airflow (dag.test) against the simulator over HTTP and a real PostgreSQL."""

from __future__ import annotations

import threading
import time
from decimal import Decimal

from ploomes_sync.streams import registry
from tests.support.truth import assert_warehouse_equals_simulator, assert_warehouse_equals_truth, make_stale


def succeeded(harness, dag_run) -> bool:
    states = harness.task_states(dag_run)
    assert str(dag_run.state) == "success", states
    return True


def history(conn, run_id: str) -> dict:
    row = conn.execute(
        "SELECT status, mode, streams, api_requests, year_table, watermarks_after "
        "FROM ploomes_sync.run_history WHERE run_id = %s", [run_id]
    ).fetchone()
    assert row is not None, f"no run history for {run_id}"
    return dict(zip(["status", "mode", "streams", "api_requests", "year_table", "watermarks_after"], row,
                    strict=True))


class TestFirstRun:
    def test_first_run_equals_the_simulators_truth_exactly(self, harness):
        run = harness.run()
        assert succeeded(harness, run)
        with harness.connect() as conn:
            assert_warehouse_equals_simulator(conn, harness.sim.admin)
            record = history(conn, run.run_id)
        assert record["status"] == "success" and record["mode"] == "full"
        assert record["streams"]["deals"]["inserted"] == len(harness.sim.admin.truth_deals())
        assert record["api_requests"] > 0 and record["year_table"]
        assert set(record["watermarks_after"]) == set(registry().names)

    def test_deals_near_new_year_land_in_their_sao_paulo_year(self, harness):
        assert succeeded(harness, harness.run())
        deals = harness.sim.admin.truth_deals()
        near = [d for d in deals if d["CreateDate"][5:10] in ("12-31", "01-01") and d["CreateDate"][11:13] in
                ("23", "00")]
        assert near, "the simulator should generate deals around New Year's midnight"
        with harness.connect() as conn:
            for deal in near:
                year = conn.execute(
                    "SELECT extract(year FROM created_at AT TIME ZONE 'America/Sao_Paulo')::int "
                    "FROM public.sales WHERE id = %s", [deal["Id"]]
                ).fetchone()[0]
                assert year == int(deal["CreateDate"][:4]), deal["CreateDate"]


class TestIncrementalRuns:
    def test_next_run_converges_after_updates_deletions_and_creations(self, harness):
        assert succeeded(harness, harness.run())
        admin = harness.sim.admin
        admin.mutate(updates=40, deletes=15, creates=25, seed=3)
        victim = admin.truth_contacts()[0]
        admin.update_contact(victim["Id"], Name="Renomeada Comércio Ltda")
        run = harness.run()
        assert succeeded(harness, run)
        with harness.connect() as conn:
            assert_warehouse_equals_simulator(conn, admin)
            record = history(conn, run.run_id)
            archived = conn.execute("SELECT count(*) FROM ploomes_sync.deleted_sales").fetchone()[0]
        assert record["mode"] == "incremental"
        assert record["streams"]["deals"]["deleted"] == 15 and archived == 15
        # an incremental run reads only what changed, not the whole account
        assert record["streams"]["deals"]["fetched"] < 100

    def test_changes_made_while_the_extract_pages_converge_on_the_next_run(self, harness, monkeypatch):
        import json
        import os

        conn_json = json.loads(os.environ["AIRFLOW_CONN_PLOOMES_DEFAULT"])
        conn_json["extra"]["page_size"] = 40
        monkeypatch.setenv("AIRFLOW_CONN_PLOOMES_DEFAULT", json.dumps(conn_json))
        admin = harness.sim.admin
        stop = threading.Event()

        def meddle() -> None:
            while not stop.is_set():
                served = [r for r in admin.requests() if r["path"] == "/Deals"]
                if len(served) >= 5:
                    admin.mutate(updates=20, deletes=10, creates=10, seed=11)
                    return
                time.sleep(0.02)

        meddler = threading.Thread(target=meddle)
        meddler.start()
        try:
            first = harness.run()
        finally:
            stop.set()
            meddler.join()
        # the first run may fail validation (Ploomes changed under it) or succeed; the next converges
        assert str(first.state) in ("success", "failed")
        assert succeeded(harness, harness.run())
        with harness.connect() as conn:
            assert_warehouse_equals_simulator(conn, admin)

    def test_running_again_with_nothing_changed_changes_nothing(self, harness):
        assert succeeded(harness, harness.run())
        with harness.connect() as conn:
            before = conn.execute("SELECT id, synced_at FROM public.sales ORDER BY id").fetchall()
        run = harness.run()
        assert succeeded(harness, run)
        with harness.connect() as conn:
            after = conn.execute("SELECT id, synced_at FROM public.sales ORDER BY id").fetchall()
            record = history(conn, run.run_id)
        assert before == after
        assert record["streams"]["deals"].get("inserted", 0) == 0
        assert record["streams"]["deals"].get("updated", 0) == 0


class TestBackfillByParams:
    def test_a_date_range_run_brings_deals_created_in_the_range_to_their_current_state(self, harness):
        assert succeeded(harness, harness.run())
        admin = harness.sim.admin
        deals = admin.truth_deals()
        in_2024 = [d for d in deals if d["CreateDate"].startswith("2024")]
        in_2023 = [d for d in deals if d["CreateDate"].startswith("2023")]
        with harness.connect() as conn:  # the warehouse went stale for both years (an old tool, say)
            make_stale(conn, [d["Id"] for d in in_2024[:30] + in_2023[:30]])
        run = harness.run(from_date="2024-01-01", to_date="2024-12-31")
        assert succeeded(harness, run)
        with harness.connect() as conn:
            titles = dict(conn.execute("SELECT id, title FROM public.sales").fetchall())
            record = history(conn, run.run_id)
        assert all(titles[d["Id"]] == d["Title"] for d in in_2024[:30])
        assert all(titles[d["Id"]] == "stale" for d in in_2023[:30]), "outside the range nothing is read"
        assert record["mode"] == "range"
        assert record["streams"]["deals"]["fetched"] == len(in_2024)


class TestValidation:
    def test_validate_by_year_fails_on_a_planted_mismatch_and_records_the_table(self, harness):
        assert succeeded(harness, harness.run())
        # the won deal Ploomes changed longest ago: no incremental window reads it again
        won = min((d for d in harness.sim.admin.truth_deals() if d["StatusId"] == 2 and d.get("Amount")),
                  key=lambda d: d["LastUpdateDate"])
        with harness.connect() as conn:  # a wrong amount that only the per-year check can see
            conn.execute("UPDATE public.sales SET deal_value = deal_value + 1000 WHERE id = %s", [won["Id"]])
        # the reconcile would read it again by Id and repair it: that read answers nothing, so it stays wrong
        harness.sim.admin.set_faults(schedule=[{"kind": "empty", "count": 100, "path": "/Deals", "filter": "Id eq"}])
        run = harness.run()
        harness.sim.admin.clear_faults()
        states = harness.task_states(run)
        assert states["validate_by_year"] == "failed" and states["load_sales"] == "success"
        with harness.connect() as conn:
            record = history(conn, run.run_id)
        assert record["status"] == "failed"
        bad = [row for row in record["year_table"] if not row["ok"]]
        assert [row["year"] for row in bad] == [int(won["CreateDate"][:4])]
        assert Decimal(bad[0]["revenue_diff"]).copy_abs() == Decimal("1000.00")


class TestRejects:
    def test_bad_records_land_in_the_rejects_table_with_their_reason(self, harness):
        admin = harness.sim.admin
        good = admin.truth_deals()[0]
        bad = dict(good, Id=good["Id"] + 1_000_000_000, CreateDate="2024-13-45T99:00:00-03:00")
        admin.create_deal_raw(bad)
        run = harness.run()
        assert succeeded(harness, run)
        with harness.connect() as conn:
            rows = conn.execute("SELECT stream, record_id, reason, raw FROM ploomes_sync.rejects "
                                "WHERE run_id = %s AND stream = 'deals'", [run.run_id]).fetchall()
            loaded = conn.execute("SELECT count(*) FROM public.sales WHERE id = %s", [bad["Id"]]).fetchone()[0]
            record = history(conn, run.run_id)
        assert [(r[0], r[1]) for r in rows] == [("deals", str(bad["Id"]))]
        assert "CreateDate" in rows[0][2] and '"2024-13-45T99:00:00-03:00"' in rows[0][3]
        assert loaded == 0 and record["streams"]["deals"]["rejected"] == 1

    def test_more_rejects_than_the_threshold_fail_the_extract_and_keep_the_warehouse(self, harness):
        admin = harness.sim.admin
        template = admin.truth_deals()[0]
        for n in range(20):  # 20 of 920 records: above both the allowance (5) and the ratio (1%)
            admin.create_deal_raw(dict(template, Id=template["Id"] + 2_000_000_000 + n, Amount="lots"))
        run = harness.run(full_refresh=False)
        states = harness.task_states(run)
        assert states["extract_deals"] == "failed" and states["load_sales"] != "success"
        with harness.connect() as conn:
            assert conn.execute("SELECT count(*) FROM public.sales").fetchone()[0] == 0
            assert conn.execute("SELECT count(*) FROM ploomes_sync.watermarks WHERE stream = 'deals'"
                                ).fetchone()[0] == 0


class TestMigrationFromOlderShapes:
    def test_older_tables_keep_every_row_and_converge(self, harness):
        deals = harness.sim.admin.truth_deals(custom=True)
        with harness.connect() as conn:
            conn.execute("""
                CREATE TABLE public.customer_sales (customer_id integer primary key, customer_name text not null,
                  cnpj text, total_revenue numeric(15,2), deal_count integer, avg_deal_size numeric(15,2),
                  last_purchase_date timestamptz, last_sync_at timestamptz);
                INSERT INTO public.customer_sales VALUES (999999, 'Antiga', '123', 10, 1, 10, now(), now());
                CREATE TABLE public.sales (id bigint primary key, customer_id bigint, title text,
                  deal_value numeric(15,2), status text, created_at timestamptz);
            """)
            conn.execute("INSERT INTO public.sales (id, title, status, created_at) VALUES (%s, 'old', 'open', now()),"
                         " (123, 'gone from Ploomes', 'won', now())", [deals[0]["Id"]])
        assert succeeded(harness, harness.run())
        with harness.connect() as conn:
            assert_warehouse_equals_truth(conn, deals, harness.sim.admin.truth_contacts(custom=True))
            archived = conn.execute("SELECT id, title FROM ploomes_sync.deleted_sales").fetchall()
        assert archived == [(123, "gone from Ploomes")]

"""A stream is declared once: a new deal field is a column of the spec and one migration, nothing else.

The test adds ``probe_currency_id`` (from ``CurrencyId``; a name the spec will never hold) to a
copy of the deals spec, applies the one migration such a change needs (the column in
``stage_deals``, ``public.sales`` and ``deleted_sales``), and runs the generic extract, merge and
reconcile with the copy: the new column is read, staged, loaded and archived, without an edit to
any statement.
"""

from __future__ import annotations

import dataclasses

import psycopg

from ploomes_sync import streams, warehouse
from ploomes_sync.hooks.ploomes import PloomesHook
from ploomes_sync.reads import read_into_stage
from tests.warehouse.factories import reconcile

MIGRATION = """
ALTER TABLE ploomes_sync.stage_deals ADD COLUMN probe_currency_id bigint;
ALTER TABLE public.sales ADD COLUMN probe_currency_id bigint;
ALTER TABLE ploomes_sync.deleted_sales ADD COLUMN probe_currency_id bigint;
"""


def test_a_field_added_to_a_copy_of_the_spec_is_read_staged_loaded_and_archived(sim, db_url) -> None:
    deals = streams.registry()["deals"]
    probe = streams.integer("probe_currency_id", "CurrencyId")
    with_currency = dataclasses.replace(deals, columns=(*deals.columns, probe))
    assert "CurrencyId" in with_currency.select
    truth = {deal["Id"]: deal for deal in sim.admin.truth_deals()}
    with psycopg.connect(db_url) as conn, psycopg.connect(db_url) as rejects:
        warehouse.migrate(conn)
        conn.execute(MIGRATION)
        conn.commit()
        started = warehouse.warehouse_now(conn)
        counts = read_into_stage(with_currency, "r1", hook=PloomesHook(), conn=conn, reject_conn=rejects)
        warehouse.register_stage(conn, "deals", "r1", counts["staged"], read_started_at=None,
                                 read_started_wh=started)
        warehouse.merge(conn, with_currency, "r1", move_watermark=False)
        loaded = dict(conn.execute("SELECT id, probe_currency_id FROM public.sales").fetchall())
        conn.commit()
        assert loaded == {deal_id: deal["CurrencyId"] for deal_id, deal in truth.items()}
        assert {value for value in loaded.values()} >= {1, 2}

        gone = next(iter(truth))
        listing = with_currency.listing()
        kept = [row for row in (listing.row(deal) for deal_id, deal in truth.items() if deal_id != gone)]
        warehouse.stage_rows(conn, listing, "r2", kept)
        warehouse.register_stage(conn, listing.name, "r2", len(kept), read_started_at=None,
                                 read_started_wh=warehouse.warehouse_now(conn))
        warehouse.record_listing_ranges(conn, warehouse.Listing("r2", "deals", "listing", "full",
                                                                warehouse.warehouse_now(conn), None),
                                        [warehouse.IdRange(None, None, listed=True)])
        done = reconcile(conn, with_currency, warehouse.get_listing(conn, "r2", "deals"), lambda *counts: None)
        assert done.archived == 1
        assert conn.execute("SELECT probe_currency_id FROM ploomes_sync.deleted_sales WHERE id = %s",
                            [gone]).fetchone() == (truth[gone]["CurrencyId"],)

"""A new entity is a spec, a migration and simulator data: nothing else in the product changes.

A toy stream, ``team``, reads Ploomes' ``/Users`` (served by the simulator) a second time into a
table of its own: it is added to a copy of the registry and its ``public`` table is created by the
test (its migration; the sync's own staging, listing and archive tables follow from the spec). The
DAG's tasks then extract, load, list, reconcile and check it like deals and contacts: its deletions
are found by count and by a full listing, and the check fails naming a row the warehouse holds wrong.
"""

from __future__ import annotations

import dataclasses

import psycopg
import pytest

from ploomes_devkit.pipeline import Pipeline
from ploomes_sync import tasks
from ploomes_sync.config import SyncConfig
from ploomes_sync.streams import Stream, instant, key, registry, text
from ploomes_sync.tasks import ValidationMismatch

TEAM = Stream(
    name="team",
    endpoint="Users",
    columns=(key("id"), text("name", "Name"), text("email", "Email"), instant("created_at", "CreateDate"),
             instant("updated_at", "LastUpdateDate")),
    target="team",
    archive="deleted_team",
    listed=("id", "updated_at", "name"),
    customer_key=None,
)

MIGRATION = """
CREATE TABLE public.team (id bigint PRIMARY KEY, name text, email text, created_at timestamptz,
                          updated_at timestamptz, synced_at timestamptz);
"""
# one user in nine goes: above the default guard's share, but the guard only counts past 10 rows
CONFIG = SyncConfig()
FULL_LISTING = dataclasses.replace(CONFIG, full_listing_every_hours=0)
STREAMS = registry().with_stream(TEAM)


@pytest.fixture
def warehouse_with_users(db_url: str) -> str:
    with psycopg.connect(db_url) as conn:
        conn.execute(MIGRATION)
        conn.commit()
        tasks.migrate_schema(conn, streams=STREAMS)
    return db_url


def team(db_url: str) -> dict[int, str]:
    with psycopg.connect(db_url) as conn:
        return dict(conn.execute("SELECT id, name FROM public.team").fetchall())


def truth(sim) -> dict[int, str]:
    return {user["Id"]: user["Name"] for user in sim.admin.truth_users()}


@pytest.mark.parametrize("config", [CONFIG, FULL_LISTING], ids=["count listing", "full listing"])
def test_a_toy_stream_in_a_copy_of_the_registry_is_synced_listed_reconciled_and_checked(
        sim, warehouse_with_users, config) -> None:
    db_url = warehouse_with_users
    pipeline = Pipeline(db_url, config=config, streams=STREAMS)

    first = pipeline.run(run_id="first")
    assert first.status == "success", first.failed
    assert {"extract_team", "load_team"} <= set(first.results)
    assert team(db_url) == truth(sim) and len(truth(sim)) == 9
    assert first.results["validate_by_year"]["team"]["compared"] == 9

    gone, renamed = sorted(truth(sim))[:2]
    sim.admin.delete_user(gone)
    sim.admin.update_user(renamed, Name="Renomeado")

    second = pipeline.run(run_id="second")
    assert second.status == "success", second.failed
    assert team(db_url) == truth(sim) and gone not in team(db_url)
    assert second.results["list_deletions"]["team"]["method"] == ("full" if config is FULL_LISTING else "count")
    assert second.results["reconcile_deletions"]["team"]["deleted"] == 1
    with psycopg.connect(db_url) as conn:
        assert conn.execute("SELECT id FROM ploomes_sync.deleted_team").fetchall() == [(gone,)]


def test_the_check_of_a_toy_stream_fails_naming_the_row_that_differs(sim, warehouse_with_users) -> None:
    db_url = warehouse_with_users
    assert Pipeline(db_url, config=FULL_LISTING, streams=STREAMS).run(run_id="first").status == "success"
    wrong = sorted(truth(sim))[3]

    def corrupt(task: str) -> None:
        if task == "validate_by_year":
            with psycopg.connect(db_url) as conn:
                conn.execute("UPDATE public.team SET name = 'not in Ploomes' WHERE id = %s", [wrong])

    with pytest.raises(ValidationMismatch) as failure:
        Pipeline(db_url, config=FULL_LISTING, streams=STREAMS, before=corrupt).run(run_id="corrupted")
    assert "team" in str(failure.value) and str(wrong) in str(failure.value)

"""A new entity is a spec, a migration and simulator data: nothing else in the product changes.

A toy stream of Ploomes' ``/Users`` (served by the simulator) is added to a copy of the registry
and its tables are created by the test (its migration). The DAG's tasks then extract, load, list,
reconcile and check it like deals and contacts: its deletions are found by count and by a full
listing, and the check fails naming a row the warehouse holds wrong.
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

USERS = Stream(
    name="users",
    endpoint="Users",
    columns=(key("id"), text("name", "Name"), text("email", "Email"), instant("created_at", "CreateDate"),
             instant("updated_at", "LastUpdateDate")),
    target="users",
    archive="deleted_users",
    listed=("id", "updated_at", "name"),
    customer_key=None,
)

MIGRATION = """
CREATE TABLE public.users (id bigint PRIMARY KEY, name text, email text, created_at timestamptz,
                           updated_at timestamptz, synced_at timestamptz);
CREATE UNLOGGED TABLE ploomes_sync.stage_users (run_id text NOT NULL, id bigint NOT NULL, name text, email text,
                                                created_at timestamptz, updated_at timestamptz);
CREATE UNLOGGED TABLE ploomes_sync.stage_users_listing (run_id text NOT NULL, id bigint NOT NULL,
                                                        updated_at timestamptz, name text);
CREATE TABLE ploomes_sync.deleted_users (id bigint NOT NULL, name text, email text, created_at timestamptz,
                                         updated_at timestamptz, synced_at timestamptz,
                                         deleted_at timestamptz NOT NULL DEFAULT now(), run_id text,
                                         row_data jsonb NOT NULL);
"""
# one user in eight goes: above the default guard's share, but the guard only counts past 10 rows
CONFIG = SyncConfig()
FULL_LISTING = dataclasses.replace(CONFIG, full_listing_every_hours=0)
STREAMS = registry().with_stream(USERS)


@pytest.fixture
def warehouse_with_users(db_url: str) -> str:
    with psycopg.connect(db_url) as conn:
        tasks.migrate_schema(conn)
        conn.execute(MIGRATION)
    return db_url


def users(db_url: str) -> dict[int, str]:
    with psycopg.connect(db_url) as conn:
        return dict(conn.execute("SELECT id, name FROM public.users").fetchall())


def truth(sim) -> dict[int, str]:
    return {user["Id"]: user["Name"] for user in sim.admin.truth_users()}


@pytest.mark.parametrize("config", [CONFIG, FULL_LISTING], ids=["count listing", "full listing"])
def test_a_toy_stream_in_a_copy_of_the_registry_is_synced_listed_reconciled_and_checked(
        sim, warehouse_with_users, config) -> None:
    db_url = warehouse_with_users
    pipeline = Pipeline(db_url, config=config, streams=STREAMS)

    first = pipeline.run(run_id="first")
    assert first.status == "success", first.failed
    assert {"extract_users", "load_users"} <= set(first.results)
    assert users(db_url) == truth(sim) and len(truth(sim)) == 8
    assert first.results["validate_by_year"]["users"]["compared"] == 8

    gone, renamed = sorted(truth(sim))[:2]
    sim.admin.delete_user(gone)
    sim.admin.update_user(renamed, Name="Renomeado")

    second = pipeline.run(run_id="second")
    assert second.status == "success", second.failed
    assert users(db_url) == truth(sim) and gone not in users(db_url)
    assert second.results["list_deletions"]["users"]["method"] == ("full" if config is FULL_LISTING else "count")
    assert second.results["reconcile_deletions"]["users"]["deleted"] == 1
    with psycopg.connect(db_url) as conn:
        assert conn.execute("SELECT id FROM ploomes_sync.deleted_users").fetchall() == [(gone,)]


def test_the_check_of_a_toy_stream_fails_naming_the_row_that_differs(sim, warehouse_with_users) -> None:
    db_url = warehouse_with_users
    assert Pipeline(db_url, config=FULL_LISTING, streams=STREAMS).run(run_id="first").status == "success"
    wrong = sorted(truth(sim))[3]

    def corrupt(task: str) -> None:
        if task == "validate_by_year":
            with psycopg.connect(db_url) as conn:
                conn.execute("UPDATE public.users SET name = 'not in Ploomes' WHERE id = %s", [wrong])

    with pytest.raises(ValidationMismatch) as failure:
        Pipeline(db_url, config=FULL_LISTING, streams=STREAMS, before=corrupt).run(run_id="corrupted")
    assert "users" in str(failure.value) and str(wrong) in str(failure.value)

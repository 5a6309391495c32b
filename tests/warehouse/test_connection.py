"""One way to reach the warehouse: the tasks, the API server's pool and the triggerer's watch all
open connection ``sales_db`` with the same arguments, as the postgres provider builds them."""

from __future__ import annotations

import json

import psycopg
import pytest

from ploomes_sync.connections import connect_warehouse
from ploomes_sync.warehouse.connection import connect_kwargs
from ploomes_sync.warehouse.pool import WarehousePool


@pytest.fixture
def sales_db(monkeypatch: pytest.MonkeyPatch, db_url: str) -> str:
    parts = psycopg.conninfo.conninfo_to_dict(db_url)
    monkeypatch.setenv("AIRFLOW_CONN_SALES_DB", json.dumps({
        "conn_type": "postgres", "host": parts["host"], "port": int(parts.get("port", 5432)),
        "login": parts.get("user"), "schema": parts["dbname"],
        # passed to psycopg ...; "cursor" and "iam" are the provider's own and never reach the driver
        "extra": {"application_name": "ploomes-sync-test", "prepare_threshold": None, "sslmode": "disable",
                  "cursor": "dictcursor", "iam": False}}))
    return parts["dbname"]


def test_the_extras_reach_psycopg_except_those_the_provider_keeps_for_itself(sales_db):
    kwargs = connect_kwargs("sales_db")
    assert kwargs["dbname"] == sales_db and kwargs["application_name"] == "ploomes-sync-test"
    assert kwargs["sslmode"] == "disable" and kwargs["prepare_threshold"] is None  # never prepare (poolers)
    assert "cursor" not in kwargs and "iam" not in kwargs
    assert kwargs["connect_timeout"] == 10


def test_the_tasks_and_the_api_servers_pool_open_the_same_connection(sales_db):
    with connect_warehouse() as task_conn:
        assert task_conn.prepare_threshold is None and not task_conn.autocommit
        seen_by_task = task_conn.execute("SELECT current_database(), current_setting('application_name')").fetchone()
    pool = WarehousePool()
    try:
        with pool.connection() as pooled:
            seen_by_pool = pooled.execute("SELECT current_database(), current_setting('application_name')").fetchone()
            assert pooled.autocommit and pooled.prepare_threshold is None
    finally:
        pool.close()
    assert seen_by_task == seen_by_pool == (sales_db, "ploomes-sync-test")


def _point_at(monkeypatch: pytest.MonkeyPatch, db_url: str, **changes: object) -> None:
    parts = {**psycopg.conninfo.conninfo_to_dict(db_url), **changes}
    monkeypatch.setenv("AIRFLOW_CONN_SALES_DB", json.dumps({
        "conn_type": "postgres", "host": parts["host"], "port": int(parts.get("port", 5432)),
        "login": parts.get("user"), "schema": parts["dbname"], "extra": {"connect_timeout": 3}}))


class TestWhatARetryCannotChangeFailsAtOnce:
    @pytest.mark.parametrize(("changes", "said"), [
        ({"dbname": "no_such_warehouse"}, 'database "no_such_warehouse" does not exist'),
        ({"user": "no_such_login"}, 'role "no_such_login" does not exist'),
    ], ids=["no such database", "no such login"])
    def test_settings_the_warehouse_refuses(self, monkeypatch, db_url, changes, said) -> None:
        from airflow.providers.common.compat.sdk import AirflowFailException

        from ploomes_sync.warehouse.errors import WarehouseRefused

        _point_at(monkeypatch, db_url, **changes)
        with pytest.raises(WarehouseRefused) as refused:
            connect_warehouse()
        assert isinstance(refused.value, AirflowFailException)
        assert "'sales_db'" in str(refused.value) and said in str(refused.value)

    def test_a_server_that_does_not_answer_keeps_its_retries(self, monkeypatch, db_url) -> None:
        from ploomes_sync.warehouse.errors import WarehouseRefused

        _point_at(monkeypatch, db_url, host="127.0.0.1", port="1")  # nothing listens: refused, maybe not for long
        with pytest.raises(psycopg.OperationalError) as failed:
            connect_warehouse()
        assert not isinstance(failed.value, WarehouseRefused)

    def test_a_connection_nobody_defined_names_the_variable_airflow_reads(self, monkeypatch) -> None:
        from airflow.providers.common.compat.sdk import AirflowFailException

        from ploomes_sync.connections import ConnectionMissing

        monkeypatch.delenv("AIRFLOW_CONN_SALES_DB", raising=False)
        with pytest.raises(ConnectionMissing) as missing:
            connect_warehouse()
        assert isinstance(missing.value, AirflowFailException)
        assert "'sales_db'" in str(missing.value) and "AIRFLOW_CONN_SALES_DB" in str(missing.value)

"""The DAG folder parses cleanly, quickly and without touching the network."""

from __future__ import annotations

import socket
import warnings
from datetime import timedelta
from pathlib import Path

import pytest

DAGS = Path(__file__).resolve().parents[2] / "dags"


@pytest.fixture
def dagbag(monkeypatch):
    from airflow.dag_processing.dagbag import DagBag

    def refuse(*args, **kwargs):
        raise AssertionError(f"parsing the DAG folder opened a connection to {args[1:]}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        bag = DagBag(dag_folder=str(DAGS))
    bag.caught_warnings = [w for w in caught if issubclass(w.category, DeprecationWarning)
                           or "Deprecat" in w.category.__name__]
    return bag


class TestDagIntegrity:
    def test_dag_folder_imports_without_errors_or_deprecation_warnings(self, dagbag):
        assert dagbag.import_errors == {}
        assert [str(w.message) for w in dagbag.caught_warnings] == []
        assert set(dagbag.dag_ids) == {"ploomes_sales_sync"}

    def test_dag_has_tags_retries_docs_and_the_task_chain(self, dagbag):
        dag = dagbag.dags["ploomes_sales_sync"]
        assert dag.tags and dag.doc_md
        for task in dag.tasks:
            assert task.retries >= 1, task.task_id
            assert task.on_failure_callback, task.task_id
        chain = ["extract_deals", "load_sales", "aggregate_customer_sales", "validate_by_year"]
        for upstream, downstream in zip(chain, chain[1:], strict=False):
            assert downstream in dag.get_task(upstream).downstream_task_ids
        assert "aggregate_customer_sales" in dag.get_task("load_customers").downstream_task_ids
        assert "plan_run" in dag.get_task("migrate_schema").downstream_task_ids

    def test_every_task_that_calls_ploomes_runs_in_the_api_pool(self, dagbag):
        dag = dagbag.dags["ploomes_sales_sync"]
        in_pool = {task.task_id for task in dag.tasks if task.pool == "ploomes_api"}
        assert in_pool == {"check_ploomes_key", "extract_deals", "extract_contacts", "list_deletions"}

    def test_schedule_gives_six_hour_data_intervals_one_run_at_a_time_without_catchup(self, dagbag):
        import pendulum
        from airflow.serialization.encoders import coerce_to_core_timetable

        dag = dagbag.dags["ploomes_sales_sync"]
        assert dag.catchup is False and dag.max_active_runs == 1
        start = pendulum.datetime(2026, 3, 1, 6, tz="America/Sao_Paulo")
        interval = coerce_to_core_timetable(dag.timetable).infer_manual_data_interval(run_after=start.add(hours=1))
        assert interval.end - interval.start == timedelta(hours=6)
        assert interval.end == start  # the last complete 6-hour interval before the run

    def test_params_are_date_pickers_with_descriptions(self, dagbag):
        dag = dagbag.dags["ploomes_sales_sync"]
        params = dag.params
        for name in ("from_date", "to_date"):
            schema = params.get_param(name).schema
            assert schema["format"] == "date" and params.get_param(name).description
        assert params["full_refresh"] is False

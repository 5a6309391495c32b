"""The DAG folder parses cleanly, quickly and without touching the network."""

from __future__ import annotations

import socket
import warnings
from datetime import timedelta
from pathlib import Path

import pytest

from ploomes_sync.streams import registry

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
        assert set(dagbag.dag_ids) == {"ploomes_sales_sync", "ploomes_webhook_apply", "ploomes_webhook_setup",
                                       "ploomes_sync_watchdog"}

    def test_dag_has_tags_retries_docs_and_the_task_chain(self, dagbag):
        dag = dagbag.dags["ploomes_sales_sync"]
        assert dag.tags and dag.doc_md
        for task in dag.tasks:
            assert task.retries >= 1, task.task_id
            assert task.on_failure_callback, task.task_id
        chain = ["extract_deals", "load_sales", "aggregate_customer_sales", "validate_by_year"]
        for upstream, downstream in zip(chain, chain[1:], strict=False):  # the user's chain, in this order
            assert downstream in dag.get_task(upstream).get_flat_relative_ids(upstream=False)
        assert "load_sales" in dag.get_task("extract_deals").downstream_task_ids
        assert "validate_by_year" in dag.get_task("aggregate_customer_sales").downstream_task_ids
        for stream in registry():  # every stream of the registry has its extract and load, before the listing
            assert f"load_{stream.target}" in dag.get_task(f"extract_{stream.name}").downstream_task_ids
            assert "list_deletions" in dag.get_task(f"load_{stream.target}").downstream_task_ids
        assert not dag.get_task("plan_run").upstream_task_ids, "plan_run (with the migrations) comes first"

    def test_every_task_that_calls_ploomes_runs_in_the_api_pool(self, dagbag):
        dag = dagbag.dags["ploomes_sales_sync"]
        in_pool = {task.task_id for task in dag.tasks if task.pool == "ploomes_api"}
        assert in_pool == {"check_ploomes_key", "list_deletions", "reconcile_deletions",
                           *(f"extract_{s.name}" for s in registry())}

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

    def test_nothing_hangs_every_task_has_a_timeout_and_the_run_one(self, dagbag):
        dag = dagbag.dags["ploomes_sales_sync"]
        assert dag.dagrun_timeout is not None and dag.dagrun_timeout < timedelta(hours=6)  # before the next run
        for task in dag.tasks:
            assert task.execution_timeout is not None and task.execution_timeout <= dag.dagrun_timeout, task.task_id

    def test_the_graph_says_what_the_run_does(self, dagbag):
        dag = dagbag.dags["ploomes_sales_sync"]
        # listing and reconcile are tasks of their own, after both loads, before the aggregate
        assert {"load_sales", "load_customers"} <= dag.get_task("list_deletions").upstream_task_ids
        assert "reconcile_deletions" in dag.get_task("list_deletions").downstream_task_ids
        assert "aggregate_customer_sales" in dag.get_task("reconcile_deletions").downstream_task_ids
        # a skipped listing does not skip what follows it
        for task_id in ("reconcile_deletions", "aggregate_customer_sales", "validate_by_year"):
            assert dag.get_task(task_id).trigger_rule == "none_failed", task_id
        # the last task runs whatever happened, and does not decide the run's state
        finish = dag.get_task("finish_run")
        assert finish.is_teardown and not finish.on_failure_fail_dagrun
        assert finish.trigger_rule == "all_done_setup_success"
        assert "finish_run" in dag.get_task("validate_by_year").downstream_task_ids

    def test_the_tasks_that_change_public_tables_update_their_assets(self, dagbag):
        dag = dagbag.dags["ploomes_sales_sync"]
        outlets = {task.task_id: {asset.name for asset in task.outlets} for task in dag.tasks if task.outlets}
        def tables(stream) -> set[str]:
            return {f"ploomes_sync.public.{t}" for t in stream.tables}

        customer_sales = {"ploomes_sync.public.customer_sales"}
        expected = {f"load_{s.target}": tables(s) | (customer_sales if s.customer_key else set()) for s in registry()}
        assert expected["load_sales"] == {"ploomes_sync.public.sales", "ploomes_sync.public.customer_sales"}
        assert expected["load_orders"] == {"ploomes_sync.public.orders", "ploomes_sync.public.order_items"}
        assert outlets == {
            **expected,
            "reconcile_deletions": set().union(*map(tables, registry())) | customer_sales,
            "aggregate_customer_sales": {"ploomes_sync.public.customer_sales"},
        }

    def test_params_include_the_mass_deletion_confirmation(self, dagbag):
        param = dagbag.dags["ploomes_sales_sync"].params.get_param("confirm_mass_deletion")
        assert param.value is False and param.description


class TestWebhookAndWatchdogDags:
    def test_the_applier_is_woken_by_the_inbox_watcher_not_by_a_schedule(self, dagbag):
        from airflow.sdk import Asset

        from ploomes_sync.webhooks.trigger import InboxTrigger

        dag = dagbag.dags["ploomes_webhook_apply"]
        assets = list(dag.timetable.asset_condition.objects)
        assert [a.name for a in assets] == ["ploomes_sync.webhook_inbox"]
        (inbox,) = assets
        assert isinstance(inbox, Asset) and len(inbox.watchers) == 1
        assert isinstance(inbox.watchers[0].trigger, InboxTrigger)
        assert dag.max_active_runs == 1 and dag.catchup is False
        (task,) = dag.tasks
        assert task.pool == "ploomes_api" and task.retries >= 1 and task.on_failure_callback
        assert {o.name for o in task.outlets} == {
            "ploomes_sync.public.customer_sales", *(f"ploomes_sync.public.{t}" for s in registry() for t in s.tables)}
        assert "ploomes_sync.public.order_items" in {o.name for o in task.outlets}

    def test_the_setup_is_manual_migrates_first_and_has_a_remove_param(self, dagbag):
        dag = dagbag.dags["ploomes_webhook_setup"]
        assert dag.schedule is None
        assert dag.params["remove"] is False
        assert "register_webhooks" in dag.get_task("migrate_schema").downstream_task_ids

    def test_the_watchdog_checks_every_half_hour_without_catchup(self, dagbag):
        dag = dagbag.dags["ploomes_sync_watchdog"]
        assert dag.timetable.delta == timedelta(minutes=30) and dag.catchup is False
        assert [task.task_id for task in dag.tasks] == ["check_freshness"]

"""The security tests drive the real DAG with the harness of ``tests/dags`` (dag.test against the
simulator and a fresh warehouse)."""

from tests.dags.conftest import airflow_db, harness, simulator  # noqa: F401 (fixtures)

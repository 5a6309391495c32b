"""What the docs list that the code could drift from: the Assets the sync updates, the tables it
writes, the endpoints of the health page's metrics; checked against the registry and the code."""

from __future__ import annotations

import re
from pathlib import Path

from ploomes_sync.assets import assets_of
from ploomes_sync.streams import registry

ROOT = Path(__file__).resolve().parents[1]
TABLES = {table for stream in registry() for table in stream.tables} | {"customer_sales"}


def _section(text: str, start: str, end: str = "\n\n") -> str:
    at = text.index(start)
    return text[at:text.index(end, at + len(start))]


def test_the_readme_lists_every_asset_the_sync_updates_and_no_other() -> None:
    paragraph = _section((ROOT / "README.md").read_text(encoding="utf-8"), "**For dashboards.**")
    listed = set(re.findall(r"`([a-z_]+)`", paragraph))
    assert listed == TABLES, (sorted(TABLES - listed), sorted(listed - TABLES))
    assert {asset.name for asset in assets_of(registry())} == {f"ploomes_sync.public.{t}" for t in TABLES}


def test_the_dags_own_doc_lists_the_assets_of_its_tasks() -> None:
    from ploomes_devkit.pipeline import dag_waves

    dag = dag_waves()[0][0].dag
    outlets = {outlet.name for task in dag.tasks for outlet in task.outlets}
    listed = set(re.findall(r"`(ploomes_sync\.public\.[a-z_]+)`", _section(dag.doc_md, "**Assets.**")))
    assert listed == outlets == {f"ploomes_sync.public.{t}" for t in TABLES}


def test_the_warehouse_page_documents_every_table_the_sync_writes() -> None:
    page = (ROOT / "docs" / "warehouse.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"`(?:public\.)?([a-z_]+)`", page))
    assert TABLES <= documented, sorted(TABLES - documented)
    for stream in registry():
        assert f"deleted_{stream.target}" in page or "deleted_<table>" in page


def test_the_health_doc_names_every_metric_the_endpoint_serves() -> None:
    source = (ROOT / "src" / "ploomes_sync" / "monitoring" / "metrics.py").read_text(encoding="utf-8")
    served = {f"ploomes_sync_{name}" for name in re.findall(r'gauge\("([a-z_0-9]+)"', source)}
    served |= set(re.findall(r'"(ploomes_sync_[a-z_0-9]+)"', source))
    documented = set(re.findall(r"`(ploomes_sync_[a-z_0-9]+)", (ROOT / "docs" / "health.md").read_text("utf-8")))
    assert served <= documented, sorted(served - documented)

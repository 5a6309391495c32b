"""The API key revoked in the middle of an extract, between two pages of the same read.

The run must fail fast: the first 403 ends it (no retry by the hook, and an ``AirflowFailException``
so Airflow does not retry the task either), nothing of the stream being read reaches ``public``,
its watermark stays, and once the key is restored the next run converges. Were 401/403 treated
as transient, the simulator would see more than one rejected request and the test would fail.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from airflow.providers.common.compat.sdk import AirflowFailException
from requests import PreparedRequest, Response

from ploomes_devkit.pipeline import Pipeline
from ploomes_simulator import RunningSimulator
from ploomes_sync.api.errors import PloomesAuthError
from ploomes_sync.hooks.ploomes import PloomesHook
from ploomes_sync.streams import registry
from tests.reliability.harness import CONFIG, assert_unchanged, run_fails, run_ok, run_status, snapshot

REVOKED = "revoked-key-0000000000000000000000"


class RevokingHook(PloomesHook):
    """A hook whose ``page``-th request to ``endpoint`` finds the key revoked (by the simulator's admin)."""

    def __init__(self, sim: RunningSimulator, endpoint: str, page: int, **arguments: Any) -> None:
        super().__init__(**arguments)
        self.sim, self.endpoint, self.page, self.seen = sim, endpoint, page, 0

    def send(self, prepared: PreparedRequest, cancel=None) -> Response:
        if f"/{self.endpoint}?" in (prepared.url or ""):
            self.seen += 1
            if self.seen == self.page:
                self.sim.admin.configure(api_key=REVOKED)
        return super().send(prepared, cancel)


def revoking_run_failed(failure) -> str:
    """The run history's error of the failed run: which tasks did not succeed."""
    return failure.failed


@pytest.mark.parametrize(("endpoint", "stream", "table"), [
    ("Deals", "deals", "sales"),
    ("Contacts", "contacts", "customers"),
])
def test_key_revoked_mid_extract_fails_fast_writes_nothing_and_converges_once_restored(
    endpoint: str, stream: str, table: str, sim: RunningSimulator, db_url: str, pipeline: Pipeline,
    api_key: str,
) -> None:
    run_ok(pipeline, db_url, sim.admin, "baseline")
    sim.admin.mutate(updates=60, deletes=3, creates=5, seed=4)
    for contact in sim.admin.truth_contacts()[:50]:
        sim.admin.update_contact(contact["Id"], Name=f"{contact['Name']} (renamed)")
    before = snapshot(db_url)
    sim.admin.clear_requests()

    revoking = Pipeline(db_url, config=CONFIG,
                        hook_factory=lambda **arguments: RevokingHook(sim, endpoint, page=3, **arguments))
    failure = run_fails(revoking, "revoked", PloomesAuthError)
    failure.failed = run_status(db_url, "revoked")["error"] or ""

    assert isinstance(failure.value, AirflowFailException), "an auth failure must not be retried by Airflow"
    assert "rejected the User-Key" in str(failure.value)
    assert REVOKED not in str(failure.value) and api_key not in str(failure.value)
    # The extracts run side by side: each meets the revoked key once (or twice, with a request of
    # its read already in flight), asks the key check once to tell a revoked key from one endpoint
    # refused, and asks no more.
    rejected = [entry["path"].lower() for entry in sim.admin.requests() if entry["status"] == 403]
    assert f"/{endpoint}".lower() in rejected
    refused_reads = Counter(path for path in rejected if path != "/account")
    assert max(refused_reads.values()) <= 2 and len(refused_reads) <= len(registry().names), \
        f"the hook kept asking with a rejected key: {rejected}"
    assert rejected.count("/account") <= refused_reads.total(), f"more than one key check per refusal: {rejected}"
    # the extract that met the revoked key failed (the other may have finished before the key went)
    assert f"extract_{stream}" in revoking_run_failed(failure)
    # the stream being read when the key went: nothing written, watermark kept
    # (the other streams load, as in Airflow, and refresh the customer_sales rows they touch)
    assert_unchanged(db_url, before, tables=(table,), streams=(stream,))

    sim.admin.configure(api_key=api_key)
    run_ok(pipeline, db_url, sim.admin, "key-restored")

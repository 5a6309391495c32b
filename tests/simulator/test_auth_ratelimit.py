"""The User-Key check and the account-wide rate limit."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ploomes_simulator import RunningSimulator
from ploomes_simulator.ratelimit import RollingWindowLimiter
from tests.simulator.sim_support import Api, start


class TestAuth:
    @pytest.mark.parametrize("key", [None, "", "wrong-key"])
    def test_missing_or_wrong_key_is_403_with_a_json_error(self, api: Api, key: str | None) -> None:
        response = api.get("/Deals", {"$top": 1}, key=key)
        assert response.status_code == 403
        assert response.json()["error"]["message"]

    def test_status_can_be_401_with_the_same_body(self, api: Api, sim: RunningSimulator) -> None:
        forbidden = api.get("/Deals", key="wrong-key")
        sim.admin.configure(auth_status=401)
        unauthorized = api.get("/Deals", key="wrong-key")
        assert (forbidden.status_code, unauthorized.status_code) == (403, 401)
        assert forbidden.json() == unauthorized.json()
        assert api.get("/Deals", {"$top": 1}).status_code == 200

    def test_key_revoked_at_run_time(self, api: Api, sim: RunningSimulator) -> None:
        assert api.get("/Account").status_code == 200
        sim.admin.configure(api_key="rotated")
        assert api.get("/Account").status_code == 403
        assert api.get("/Account", key="rotated").status_code == 200

    def test_unknown_path_without_key_is_still_rejected(self, api: Api) -> None:
        assert api.get("/Nope", key=None).status_code == 403

    def test_auth_failures_are_logged(self, api: Api, sim: RunningSimulator) -> None:
        api.get("/Deals", key="wrong-key")
        (entry,) = sim.admin.requests()
        assert (entry["path"], entry["status"], entry["fault"]) == ("/Deals", 403, None)


@pytest.fixture
def limited(api_key: str) -> Iterator[tuple[RunningSimulator, Api]]:
    with start(api_key, rate_limit=5) as sim:
        client = Api(sim, api_key)
        yield sim, client
        client.close()


class TestRateLimit:
    def test_over_the_limit_is_429_with_retry_after(self, limited: tuple[RunningSimulator, Api]) -> None:
        sim, api = limited
        statuses = [api.get("/Account").status_code for _ in range(5)]
        throttled = api.get("/Account")
        assert statuses == [200] * 5
        assert throttled.status_code == 429
        assert throttled.json()["error"]["code"] == "TooManyRequests"
        assert 1 <= int(throttled.headers["Retry-After"]) <= 60

    def test_retry_after_can_be_left_out(self, limited: tuple[RunningSimulator, Api]) -> None:
        sim, api = limited
        sim.admin.configure(retry_after=False)
        responses = [api.get("/Account") for _ in range(6)]
        assert responses[-1].status_code == 429
        assert "Retry-After" not in responses[-1].headers

    def test_errors_count_but_bad_keys_do_not(self, limited: tuple[RunningSimulator, Api]) -> None:
        sim, api = limited
        for _ in range(10):
            assert api.get("/Deals", key="wrong-key").status_code == 403
        assert [api.get("/Deals", {"$top": "x"}).status_code for _ in range(5)] == [400] * 5
        assert api.get("/Account").status_code == 429
        counts = sim.admin.request_counts()
        assert counts == {"total": 16, "by_status": {"403": 10, "400": 5, "429": 1}}

    def test_admin_is_never_limited(self, limited: tuple[RunningSimulator, Api]) -> None:
        sim, api = limited
        for _ in range(6):
            api.get("/Account")
        for _ in range(10):
            sim.admin.config()
        assert sim.admin.request_counts()["by_status"] == {"200": 5, "429": 1}

    def test_limit_can_be_lifted_at_run_time(self, limited: tuple[RunningSimulator, Api]) -> None:
        sim, api = limited
        for _ in range(6):
            api.get("/Account")
        sim.admin.configure(rate_limit=0)
        assert api.get("/Account").status_code == 200


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class TestRollingWindow:
    def test_a_slot_frees_sixty_seconds_after_the_oldest(self) -> None:
        clock = FakeClock()
        limiter = RollingWindowLimiter(3, clock=clock)
        for step in range(3):
            clock.now = 1000.0 + step * 10
            assert limiter.acquire() is None
        clock.now = 1025.0
        assert limiter.acquire() == 35  # the first admission (t=1000) leaves at 1060
        clock.now = 1059.5
        assert limiter.acquire() == 1
        clock.now = 1060.0
        assert limiter.acquire() is None
        assert limiter.acquire() == 10  # next to leave: t=1010

    def test_rejections_do_not_take_slots(self) -> None:
        clock = FakeClock()
        limiter = RollingWindowLimiter(2, clock=clock)
        assert limiter.acquire() is None and limiter.acquire() is None
        for second in range(59):
            clock.now = 1000.0 + second
            assert limiter.acquire() is not None
        clock.now = 1060.0
        assert limiter.acquire() is None and limiter.acquire() is None
        assert limiter.acquire() is not None

    def test_lowering_the_limit_waits_for_enough_to_leave(self) -> None:
        clock = FakeClock()
        limiter = RollingWindowLimiter(4, clock=clock)
        for step in range(4):
            clock.now = 1000.0 + step
            limiter.acquire()
        limiter.set_limit(2)
        clock.now = 1010.0
        assert limiter.acquire() == 52  # three must leave; the third (t=1002) leaves at 1062

    def test_zero_means_no_limit(self) -> None:
        limiter = RollingWindowLimiter(0)
        assert all(limiter.acquire() is None for _ in range(1000))

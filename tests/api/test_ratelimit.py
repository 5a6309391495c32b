"""The client-side rate limiter."""

from __future__ import annotations

import threading
import time

import pytest

from ploomes_sync.api.errors import ReadCancelled
from ploomes_sync.api.ratelimit import Paced, RateLimiter, shared_limiter


class FakeClock:
    """A clock that moves only when slept on (or told to)."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


class TestRateLimiter:
    def test_spaces_requests_evenly_at_sixty_over_rpm(self) -> None:
        clock = FakeClock()
        limiter = RateLimiter(120, clock=clock, sleep=clock.sleep)
        starts = []

        for _ in range(5):
            limiter.acquire()
            starts.append(clock.now)

        assert limiter.interval == 0.5
        assert [b - a for a, b in zip(starts, starts[1:], strict=False)] == [0.5] * 4

    def test_the_first_request_does_not_wait(self) -> None:
        clock = FakeClock()

        assert RateLimiter(60, clock=clock, sleep=clock.sleep).acquire() == 0
        assert clock.slept == []

    def test_idle_time_earns_no_burst(self) -> None:
        clock = FakeClock()
        limiter = RateLimiter(60, clock=clock, sleep=clock.sleep)
        limiter.acquire()
        clock.now += 3600  # an hour idle

        limiter.acquire()
        waited = limiter.acquire()

        assert waited == pytest.approx(1.0)

    def test_only_waits_what_remains_of_the_interval(self) -> None:
        clock = FakeClock()
        limiter = RateLimiter(60, clock=clock, sleep=clock.sleep)
        limiter.acquire()
        clock.now += 0.25  # the caller's own work

        assert limiter.acquire() == pytest.approx(0.75)

    def test_a_short_sleep_is_topped_up(self) -> None:
        clock = FakeClock()
        limiter = RateLimiter(60, clock=clock, sleep=lambda s: clock.sleep(s / 2))
        limiter.acquire()
        start = clock.now

        limiter.acquire()

        assert clock.now - start >= 1.0

    @pytest.mark.parametrize("rpm", [0, -5])
    def test_rejects_a_rate_that_is_not_positive(self, rpm: float) -> None:
        with pytest.raises(ValueError, match="requests_per_minute must be positive"):
            RateLimiter(rpm)

    def test_threads_sharing_a_limiter_stay_spaced(self) -> None:
        limiter = RateLimiter(1200)  # 50 ms apart
        starts: list[float] = []
        lock = threading.Lock()

        def work() -> None:
            for _ in range(4):
                limiter.acquire()
                with lock:
                    starts.append(time.monotonic())

        threads = [threading.Thread(target=work) for _ in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(10)

        starts.sort()
        assert len(starts) == 12
        # 12 acquisitions span 11 intervals (0.55 s); three threads let through unspaced would take 0.2 s.
        # The span, not each gap: a thread paused between its acquire and its append on a busy machine
        # shortens the next gap, while the span loses at most the first one's pause.
        assert starts[-1] - starts[0] >= 11 * 0.05 - 0.1


class TestSharedLimiter:
    def test_one_limiter_per_scope_and_rate(self) -> None:
        first = shared_limiter(("http://a", "ploomes_default"), 120)

        assert shared_limiter(("http://a", "ploomes_default"), 120) is first
        assert shared_limiter(("http://b", "ploomes_default"), 120) is not first
        assert shared_limiter(("http://a", "ploomes_default"), 60) is not first


class TestCostsAndPenalties:
    def test_a_paced_limiter_spends_only_its_share_of_the_budget(self) -> None:
        clock = FakeClock()
        limiter = RateLimiter(120, clock=clock, sleep=clock.sleep)
        paced = Paced(limiter, 0.25)
        starts = []
        for _ in range(3):
            paced.acquire()
            starts.append(clock.now)

        assert [b - a for a, b in zip(starts, starts[1:], strict=False)] == [2.0, 2.0]  # 4 slots each

    def test_a_429_holds_back_every_later_request(self) -> None:
        clock = FakeClock()
        limiter = RateLimiter(120, clock=clock, sleep=clock.sleep)
        limiter.acquire()
        limiter.penalize(7)
        start = clock.now

        limiter.acquire()

        assert clock.now - start == pytest.approx(7.0)

    def test_a_cancelled_wait_ends_at_once(self) -> None:
        limiter = RateLimiter(1)  # one request a minute
        limiter.acquire()
        cancel = threading.Event()
        cancel.set()

        with pytest.raises(ReadCancelled):
            limiter.acquire(cancel)

    def test_a_share_outside_zero_to_one_is_refused(self) -> None:
        with pytest.raises(ValueError, match="share"):
            Paced(RateLimiter(120), 0)

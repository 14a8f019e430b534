"""RateLimiter: sliding windows per endpoint class, concurrency cap, header hints, quotas."""

from __future__ import annotations

import threading
import time

import pytest

from leadsync.connectors.errors import RateLimitExhausted
from leadsync.connectors.ratelimit import Rate, RateLimiter, parse_rate_limit_headers


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def test_sliding_window_blocks_until_the_oldest_call_leaves() -> None:
    t = FakeTime()
    limiter = RateLimiter({"default": Rate(3, 10.0)}, guard=0.0, clock=t.clock, sleep=t.sleep)
    for _ in range(3):
        assert limiter.acquire() == 0.0
        t.now += 1.0
    # calls at 0, 1, 2; now 3: the 4th must wait until 10
    assert limiter.acquire() == pytest.approx(7.0)
    assert t.now == pytest.approx(10.0)
    # window now holds 1, 2, 10: the next waits until 11
    assert limiter.acquire() == pytest.approx(1.0)


def test_endpoint_classes_have_separate_windows_and_unknown_share_default() -> None:
    t = FakeTime()
    limiter = RateLimiter({"default": Rate(2, 10.0), "search": Rate(5, 1.0)}, guard=0.0, clock=t.clock, sleep=t.sleep)
    for _ in range(5):
        limiter.acquire("search")
    limiter.acquire("default")
    limiter.acquire("batch")  # no own rate: counts against default
    assert t.sleeps == []
    limiter.acquire("search")
    assert t.sleeps == [pytest.approx(1.0)]
    limiter.acquire("default")
    assert t.sleeps[-1] == pytest.approx(9.0)


def test_windows_are_held_a_guard_longer_than_the_vendors() -> None:
    """A call leaving at the window's edge may arrive inside the vendor's window: keep a margin."""
    t = FakeTime()
    limiter = RateLimiter({"default": Rate(5, 10.0)}, guard=0.05, clock=t.clock, sleep=t.sleep)
    for _ in range(6):
        limiter.acquire()
    assert t.sleeps == [pytest.approx(10.05)]


def test_no_rates_means_unlimited() -> None:
    t = FakeTime()
    limiter = RateLimiter(clock=t.clock, sleep=t.sleep)
    for _ in range(1000):
        limiter.acquire("anything")
    assert t.sleeps == []


def test_bad_rate_is_rejected() -> None:
    with pytest.raises(ValueError):
        Rate(0, 1.0)
    with pytest.raises(ValueError):
        RateLimiter(concurrency=0)


def test_concurrency_cap_is_respected_by_threads() -> None:
    limiter = RateLimiter(concurrency=2)
    active = 0
    peak = 0
    lock = threading.Lock()

    def work() -> None:
        nonlocal active, peak
        with limiter.slot():
            with lock:
                active += 1
                peak = max(peak, active)
            time.sleep(0.02)
            with lock:
                active -= 1

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert peak == 2


def test_window_is_thread_safe() -> None:
    limiter = RateLimiter({"default": Rate(50, 60.0)})
    acquired = []
    threads = [threading.Thread(target=lambda: acquired.append(limiter.acquire())) for _ in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(limiter._calls["default"]) == 50


@pytest.mark.parametrize(
    ("headers", "wait", "quota"),
    [
        ({"X-HubSpot-RateLimit-Secondly-Remaining": "0"}, 1.0, False),
        ({"X-HubSpot-RateLimit-Remaining": "0", "X-HubSpot-RateLimit-Interval-Milliseconds": "10000"}, 10.0, False),
        ({"X-HubSpot-RateLimit-Remaining": "12"}, 0.0, False),
        ({"X-HubSpot-RateLimit-Daily-Remaining": "0"}, 0.0, True),
        ({"Sforce-Limit-Info": "api-usage=100000/100000"}, 0.0, True),
        ({"Sforce-Limit-Info": "api-usage=10018/100000"}, 0.0, False),
        ({"RateLimit-Remaining": "0", "RateLimit-Reset": "4"}, 4.0, False),
        ({"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "1700000030"}, 30.0, False),
        ({"RateLimit-Remaining": "abc"}, 0.0, False),
        ({}, 0.0, False),
    ],
)
def test_header_parsing(headers: dict[str, str], wait: float, quota: bool) -> None:
    hint = parse_rate_limit_headers(headers, now=1700000000.0)
    assert hint.wait_s == pytest.approx(wait)
    assert bool(hint.quota_exhausted) is quota


def test_update_from_headers_blocks_and_exhausts() -> None:
    t = FakeTime()
    limiter = RateLimiter({"default": Rate(100, 10.0)}, clock=t.clock, sleep=t.sleep)
    limiter.update_from_headers("default", {"RateLimit-Remaining": "0", "RateLimit-Reset": "3"})
    assert limiter.acquire() == pytest.approx(3.0)
    limiter.update_from_headers("default", {"X-HubSpot-RateLimit-Daily-Remaining": "0"})
    with pytest.raises(RateLimitExhausted, match="daily"):
        limiter.acquire("search")


def test_a_zero_remaining_header_waits_only_until_our_window_frees() -> None:
    t = FakeTime()
    limiter = RateLimiter({"default": Rate(100, 10.0)}, guard=0.0, clock=t.clock, sleep=t.sleep)
    limiter.acquire()
    t.now = 8.0
    limiter.update_from_headers("default", {"X-HubSpot-RateLimit-Remaining": "0",
                                            "X-HubSpot-RateLimit-Interval-Milliseconds": "10000"})
    limiter.acquire()
    assert t.sleeps == [pytest.approx(2.0)]  # the oldest call leaves at 10 s, not at 8 + 10 s


def test_a_zero_remaining_header_without_our_own_record_waits_the_interval() -> None:
    t = FakeTime()
    limiter = RateLimiter({"default": Rate(100, 10.0)}, guard=0.0, clock=t.clock, sleep=t.sleep)
    limiter.update_from_headers("default", {"X-HubSpot-RateLimit-Remaining": "0",
                                            "X-HubSpot-RateLimit-Interval-Milliseconds": "10000"})
    limiter.acquire()
    assert t.sleeps == [pytest.approx(10.0)]


def _hubspot_headers(**values: str) -> dict[str, str]:
    return {f"X-HubSpot-RateLimit-{name.replace('_', '-')}": value for name, value in values.items()}


def test_the_announced_window_replaces_the_conservative_default() -> None:
    t = FakeTime()
    limiter = RateLimiter({"default": Rate(100, 10.0)}, guard=0.0, clock=t.clock, sleep=t.sleep)
    limiter.update_from_headers("default", _hubspot_headers(Max="190", Interval_Milliseconds="10000", Remaining="189"))
    assert limiter.rates["default"] == Rate(190, 10.0)
    for _ in range(190):
        limiter.acquire()
    assert t.sleeps == []  # 190 in the window, as announced, not the default 100
    limiter.acquire()
    assert t.sleeps == [pytest.approx(10.0)]


def test_an_announcement_of_another_period_does_not_replace_a_window() -> None:
    """Search has its own one-second window: a ten-second announcement does not apply to it."""
    limiter = RateLimiter({"search": Rate(5, 1.0)})
    limiter.update_from_headers("search", _hubspot_headers(Max="190", Interval_Milliseconds="10000"))
    assert limiter.rates["search"] == Rate(5, 1.0)
    limiter.update_from_headers("search", _hubspot_headers(Secondly="4"))
    assert limiter.rates["search"] == Rate(4, 1.0)  # never above what is announced


def test_learning_can_be_turned_off_for_a_rate_set_by_hand() -> None:
    limiter = RateLimiter({"default": Rate(50, 10.0)}, learn=False)
    limiter.update_from_headers("default", _hubspot_headers(Max="190", Interval_Milliseconds="10000"))
    assert limiter.rates["default"] == Rate(50, 10.0)


def test_the_announced_per_second_budget_is_a_second_sliding_window() -> None:
    t = FakeTime()
    limiter = RateLimiter({"default": Rate(190, 10.0)}, guard=0.0, clock=t.clock, sleep=t.sleep)
    limiter.update_from_headers("default", _hubspot_headers(Secondly="19", Secondly_Remaining="18"))
    for _ in range(19):
        limiter.acquire()
        t.now += 0.01
    assert t.sleeps == []
    limiter.acquire()  # the 20th in the same second waits for the first to leave it, not a whole second
    assert t.sleeps == [pytest.approx(1.0 - 0.19)]


def test_secondly_remaining_zero_waits_for_the_oldest_call_of_that_second_only() -> None:
    t = FakeTime()
    limiter = RateLimiter({"default": Rate(190, 10.0)}, guard=0.0, clock=t.clock, sleep=t.sleep)
    limiter.update_from_headers("default", _hubspot_headers(Secondly="10", Secondly_Remaining="9"))
    limiter.acquire()
    t.now += 0.7  # other integrations used the rest of this second
    limiter.update_from_headers("default", _hubspot_headers(Secondly="10", Secondly_Remaining="0"))
    limiter.acquire()
    assert t.sleeps == [pytest.approx(0.3)]  # not a whole second


def test_salesforce_reads_the_org_allocation_not_the_apps_share() -> None:
    hint = parse_rate_limit_headers({"Sforce-Limit-Info": "api-usage=100/15000; per-app-api-usage=500/500(appName=x)"})
    assert hint.quota_exhausted is None
    hint = parse_rate_limit_headers({"Sforce-Limit-Info": "per-app-api-usage=1/500(appName=x); api-usage=15000/15000"})
    assert hint.quota_exhausted and "15000/15000" in hint.quota_exhausted


def test_a_spent_second_with_a_rate_set_by_hand_waits_for_our_oldest_call_of_that_second() -> None:
    t = FakeTime()
    limiter = RateLimiter({"default": Rate(190, 10.0)}, guard=0.0, clock=t.clock, sleep=t.sleep, learn=False)
    limiter.acquire()
    t.now = 5.0
    limiter.acquire()  # the oldest call of the last second
    t.now = 5.6
    limiter.update_from_headers("default", _hubspot_headers(Secondly="19", Secondly_Remaining="0"))
    limiter.acquire()
    assert t.sleeps == [pytest.approx(0.4)]  # frees at 6.0, not at 5.6 + 1 s
    assert limiter.rates["default"] == Rate(190, 10.0)  # the rate set by hand is kept


def test_a_rate_set_by_hand_still_keeps_the_announced_per_second_budget() -> None:
    """Two calls in flight side by side learn of a full second from the header only after both were
    sent: the per-second window holds the second one back instead of a 429."""
    t = FakeTime()
    limiter = RateLimiter({"default": Rate(190, 10.0)}, guard=0.0, clock=t.clock, sleep=t.sleep, learn=False)
    for _ in range(3):
        limiter.acquire()
        t.now += 0.01
    limiter.update_from_headers("default", _hubspot_headers(Max="250", Interval_Milliseconds="10000", Secondly="5",
                                                            Secondly_Remaining="2"))
    assert limiter.rates["default"] == Rate(190, 10.0)  # not raised to the announced 250
    assert limiter.secondly["default"] == Rate(5, 1.0)
    limiter.acquire()
    limiter.acquire()  # the calls made before the announcement count: this is the 5th of the second
    assert t.sleeps == []
    limiter.acquire()  # the 6th waits for the first of the second to leave it
    assert t.sleeps == [pytest.approx(1.0 - 0.03)]


def test_the_guard_on_a_one_second_window_is_a_small_share_of_it() -> None:
    t = FakeTime()
    limiter = RateLimiter({"search": Rate(5, 1.0), "default": Rate(100, 10.0)}, clock=t.clock, sleep=t.sleep)
    for _ in range(6):
        limiter.acquire("search")
    assert t.sleeps == [pytest.approx(1.03)]  # 30 ms on one second, not the 50 ms of a ten-second window
    start = t.now
    for _ in range(101):
        limiter.acquire()
    assert t.now - start == pytest.approx(10.05)  # the ten-second window keeps its 50 ms


def test_a_learned_per_second_budget_sustains_its_rate() -> None:
    """19 per second and 190 per 10 s, as HubSpot announces them: 20 s of calls at ~0.97 of the rate."""
    t = FakeTime()
    limiter = RateLimiter({"default": Rate(100, 10.0)}, clock=t.clock, sleep=t.sleep)
    limiter.update_from_headers("default", _hubspot_headers(Max="190", Interval_Milliseconds="10000", Secondly="19"))
    calls = 0
    while t.now < 20.0:
        limiter.acquire()
        calls += 1
    assert calls >= 0.95 * 19 * 20
    assert calls <= 19 * 21  # never above the announced budget

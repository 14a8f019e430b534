"""Client-side rate limiting: sliding windows per endpoint class, a concurrency cap, header hints."""

from __future__ import annotations

import contextlib
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass

import httpx

from leadsync.connectors.errors import RateLimitExhausted

__all__ = ["HeaderHint", "Rate", "RateLimiter", "parse_rate_limit_headers"]

DEFAULT_ENDPOINT = "default"
# The guard on a window is at most this share of its period: 50 ms on a 10-second window, but
# only 30 ms on a one-second one (a fixed 50 ms would cost a per-second budget 5% of its calls).
GUARD_SHARE = 0.03
SECONDLY = "#secondly"


@dataclass(frozen=True)
class Rate:
    """At most `calls` requests in any `period` seconds."""

    calls: int
    period: float

    def __post_init__(self) -> None:
        if self.calls < 1 or self.period <= 0:
            raise ValueError(f"Rate needs calls >= 1 and period > 0, got {self.calls}/{self.period}")


@dataclass(frozen=True)
class HeaderHint:
    """What a response's rate-limit headers say: wait `wait_s` before the next call, or quota gone.

    `window` and `secondly` are the budgets the vendor announces (HubSpot's `-Max` per
    `-Interval-Milliseconds`, and `-Secondly`); `secondly_spent` means the per-second budget has
    no call left, which frees when the oldest call of the last second leaves.
    """

    wait_s: float = 0.0
    quota_exhausted: str | None = None  # a description of the exhausted quota
    window: Rate | None = None
    secondly: Rate | None = None
    secondly_spent: bool = False


def _number(headers: Mapping[str, str] | httpx.Headers, name: str) -> float | None:
    value = headers.get(name)
    if value is None:
        return None
    try:
        return float(value.split(",")[0].split(";")[0].strip())
    except ValueError:
        return None


# `api-usage=` is the org's 24-hour allocation; `per-app-api-usage=` (same header) is one connected
# app's share and must not be read as the org's.
_SFORCE_USAGE = re.compile(r"(?<![\w-])api-usage=(\d+)/(\d+)")


def _announced(headers: httpx.Headers) -> tuple[Rate | None, Rate | None]:
    """HubSpot's announced budgets: (calls per interval, calls per second)."""
    window = secondly = None
    most, interval_ms = _number(headers, "x-hubspot-ratelimit-max"), _number(
        headers, "x-hubspot-ratelimit-interval-milliseconds")
    if most and interval_ms and most >= 1 and interval_ms > 0:
        window = Rate(int(most), interval_ms / 1000.0)
    per_second = _number(headers, "x-hubspot-ratelimit-secondly")
    if per_second and per_second >= 1:
        secondly = Rate(int(per_second), 1.0)
    return window, secondly


def parse_rate_limit_headers(
    headers: Mapping[str, str] | httpx.Headers, *, now: float | None = None
) -> HeaderHint:
    """Read the rate-limit headers vendors send (HubSpot, Salesforce, IETF RateLimit-*, X-RateLimit-*)."""
    headers = httpx.Headers(headers)  # case-insensitive lookups
    # HubSpot: a daily quota, then the rolling window (secondly or per interval).
    daily_remaining = _number(headers, "x-hubspot-ratelimit-daily-remaining")
    if daily_remaining is not None and daily_remaining <= 0:
        return HeaderHint(quota_exhausted="HubSpot daily API limit reached")
    window, secondly = _announced(headers)
    remaining = _number(headers, "x-hubspot-ratelimit-secondly-remaining")
    if remaining is not None and remaining <= 0:
        return HeaderHint(wait_s=1.0, window=window, secondly=secondly, secondly_spent=True)
    remaining = _number(headers, "x-hubspot-ratelimit-remaining")
    if remaining is not None and remaining <= 0:
        interval_ms = _number(headers, "x-hubspot-ratelimit-interval-milliseconds") or 10_000.0
        return HeaderHint(wait_s=interval_ms / 1000.0, window=window, secondly=secondly)
    if window or secondly:
        return HeaderHint(window=window, secondly=secondly)
    # Salesforce: rolling 24 h allocation on every response.
    usage = headers.get("sforce-limit-info")
    if usage:
        match = _SFORCE_USAGE.search(usage)
        if match and int(match.group(1)) >= int(match.group(2)):
            return HeaderHint(quota_exhausted=f"Salesforce API allocation used up ({match.group(0)})")
    # IETF draft RateLimit-Remaining/Reset (reset in seconds) and the common X-RateLimit-* form
    # (reset in seconds, or an epoch timestamp).
    for prefix in ("ratelimit", "x-ratelimit"):
        remaining = _number(headers, f"{prefix}-remaining")
        if remaining is not None and remaining <= 0:
            reset = _number(headers, f"{prefix}-reset")
            if reset is None:
                return HeaderHint(wait_s=1.0)
            if reset > 1_000_000_000:  # an epoch timestamp, not a delta
                reset -= now if now is not None else time.time()
            return HeaderHint(wait_s=max(0.0, reset))
    return HeaderHint()


class RateLimiter:
    """Keeps calls within per-endpoint-class sliding windows and an optional concurrency cap.

    `rates` maps an endpoint class (the `endpoint=` of `HttpClient.request`) to its `Rate`; a class
    without its own entry shares the "default" window, and with no "default" it is unlimited. Each
    class counts only against its own window (HubSpot search is exempt from the 10-second bucket).
    Thread-safe; `acquire` blocks until a call is allowed.

    With `learn` (the default), the budgets a vendor announces in its headers replace the
    configured ones, which are only the conservative start: a window takes an announced budget of
    the same period (never more than announced), and an announced per-second budget becomes a
    second, one-second window for that class. Pass `learn=False` when a person set the rate by hand:
    the configured windows are then kept as they are, but an announced per-second budget still
    becomes that second window (it can only hold calls back).
    """

    def __init__(
        self,
        rates: Mapping[str, Rate] | None = None,
        *,
        concurrency: int | None = None,
        max_wait: float = 300.0,
        guard: float = 0.05,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        header_parser: Callable[[httpx.Headers], HeaderHint] = parse_rate_limit_headers,
        learn: bool = True,
    ) -> None:
        if concurrency is not None and concurrency < 1:
            raise ValueError(f"concurrency must be >= 1, got {concurrency}")
        self.rates = dict(rates or {})
        self.concurrency = concurrency
        self.max_wait = max_wait
        # The vendor counts a call when it arrives, this limiter when it leaves; arrivals jitter
        # by the transit time, so every window is held a little longer than the vendor's.
        self.guard = guard
        self._clock = clock
        self._sleep = sleep
        self._header_parser = header_parser
        self.learn = learn
        self.secondly: dict[str, Rate] = {}  # announced per-second budgets, per window key
        self._lock = threading.Lock()
        self._calls: dict[str, deque[float]] = {}
        self._blocked_until: dict[str, float] = {}
        self._quota_exhausted: str | None = None
        self._slots = threading.BoundedSemaphore(concurrency) if concurrency else None

    def _guard(self, period: float) -> float:
        """How much longer than the vendor's `period` this limiter holds a window."""
        return min(self.guard, period * GUARD_SHARE)

    def _window_key(self, endpoint: str) -> str | None:
        if endpoint in self.rates:
            return endpoint
        return DEFAULT_ENDPOINT if DEFAULT_ENDPOINT in self.rates else None

    def _wait_needed(self, endpoint: str, key: str | None, now: float) -> float:
        """Seconds until a call on `endpoint` is allowed; 0 means it was recorded as made."""
        blocked = max(
            self._blocked_until.get(endpoint, 0.0), self._blocked_until.get(key or endpoint, 0.0)
        )
        if blocked > now:
            return blocked - now
        if key is None:
            return 0.0
        windows = [(key, self.rates[key])]
        if key in self.secondly:
            windows.append((key + SECONDLY, self.secondly[key]))
        wait = 0.0
        for name, rate in windows:
            period = rate.period + self._guard(rate.period)
            calls = self._calls.setdefault(name, deque())
            while calls and calls[0] <= now - period:
                calls.popleft()
            if len(calls) >= rate.calls:
                wait = max(wait, calls[0] + period - now)
        if wait > 0:
            return wait
        for name, _ in windows:
            self._calls[name].append(now)
        return 0.0

    def acquire(self, endpoint: str = DEFAULT_ENDPOINT) -> float:
        """Block until a call on `endpoint` fits its window; return the seconds waited."""
        key = self._window_key(endpoint)
        waited = 0.0
        while True:
            with self._lock:
                if self._quota_exhausted:
                    raise RateLimitExhausted(self._quota_exhausted)
                wait = self._wait_needed(endpoint, key, self._clock())
            if wait <= 0:
                return waited
            # A tiny floor avoids spinning on float rounding at the window edge.
            wait = max(wait, 0.001)
            self._sleep(wait)
            waited += wait

    @contextlib.contextmanager
    def slot(self, endpoint: str = DEFAULT_ENDPOINT) -> Iterator[None]:
        """Hold a concurrency slot (if capped) and a window place for one call."""
        if self._slots is not None:
            self._slots.acquire()
        try:
            self.acquire(endpoint)
            yield
        finally:
            if self._slots is not None:
                self._slots.release()

    def block(self, endpoint: str, seconds: float) -> None:
        """Make calls on `endpoint` wait `seconds` (capped at `max_wait`) from now."""
        until = self._clock() + min(max(seconds, 0.0), self.max_wait)
        key = self._window_key(endpoint) or endpoint
        with self._lock:
            self._blocked_until[key] = max(self._blocked_until.get(key, 0.0), until)

    def exhaust(self, reason: str) -> None:
        """Mark a quota (daily limit) as used up: every later `acquire` raises RateLimitExhausted."""
        with self._lock:
            self._quota_exhausted = reason

    def update_from_headers(self, endpoint: str, headers: httpx.Headers | Mapping[str, str]) -> None:
        """Apply the vendor's rate-limit headers: when remaining hits 0, later calls wait."""
        hint = self._header_parser(httpx.Headers(headers))
        self._adopt(endpoint, hint)
        if hint.quota_exhausted:
            self.exhaust(hint.quota_exhausted)
        elif hint.wait_s > 0:
            self.block(endpoint, self._until_window_frees(endpoint, hint.wait_s, secondly=hint.secondly_spent))

    def _adopt(self, endpoint: str, hint: HeaderHint) -> None:
        key = self._window_key(endpoint)
        if key is None:
            return
        with self._lock:
            current = self.rates[key]
            if self.learn and hint.window is not None and abs(hint.window.period - current.period) < 1e-6:
                self.rates[key] = hint.window
            # A per-second budget only ever holds calls back, so it is kept even beside a rate set by
            # hand: calls in flight side by side would otherwise find a second full only from a 429.
            if hint.secondly is not None and current.period > 1.0 + 1e-6:
                if key not in self.secondly:  # the calls of the last second already count against it
                    since = self._clock() - 1.0 - self._guard(1.0)
                    self._calls[key + SECONDLY] = deque(t for t in self._calls.get(key, ()) if t > since)
                self.secondly[key] = hint.secondly
            elif self.learn and hint.secondly is not None and abs(current.period - 1.0) < 1e-6:
                self.rates[key] = Rate(min(current.calls, hint.secondly.calls), 1.0)

    def _until_window_frees(self, endpoint: str, wait_s: float, *, secondly: bool = False) -> float:
        """A rolling window that says "0 remaining" frees when its oldest call leaves, not a whole
        interval later: with our own record of that window, wait only for that (at most `wait_s`).

        A spent per-second budget frees when the oldest of our calls of the last second leaves,
        whether or not the per-second budget was learned (a rate set by hand still records every
        call in its own window)."""
        key = self._window_key(endpoint)
        with self._lock:
            if not key:
                return wait_s
            now = self._clock()
            if secondly:
                guard = self._guard(1.0)
                record = self._calls.get(key + SECONDLY) if key in self.secondly else self._calls.get(key)
                recent = [t for t in record or () if t > now - 1.0 - guard]
                if not recent:
                    return wait_s
                return min(wait_s, max(recent[0] + 1.0 + guard - now, 0.0))
            period = self.rates[key].period
            calls = self._calls.get(key)
            if not calls:
                return wait_s
            frees = calls[0] + period + self._guard(period) - now
        return min(wait_s, max(frees, 0.0))

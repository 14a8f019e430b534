"""What to do with a response (Resolution), Retry-After parsing and jittered exponential backoff."""

from __future__ import annotations

import enum
import random
import time
from collections.abc import Callable, Mapping
from datetime import timezone
from email.utils import parsedate_to_datetime

import httpx

__all__ = [
    "NOT_APPLIED_STATUSES",
    "RETRYABLE_STATUSES",
    "Resolution",
    "backoff_delay",
    "default_classify",
    "parse_retry_after",
]


class Resolution(str, enum.Enum):
    """The action a classifier picks for one response (after Airbyte's ErrorResolution)."""

    OK = "ok"  # hand the response to the caller
    RETRY = "retry"  # transient: back off (Retry-After honoured) and send again
    REFRESH_AUTH_THEN_RETRY = "refresh_auth_then_retry"  # token expired: refresh once, resend
    FAIL = "fail"  # raise: ClientError (4xx), AuthError (401/403) or HttpStatusError
    QUOTA_EXHAUSTED = "quota_exhausted"  # raise RateLimitExhausted: stop the run cleanly


def _is_retryable_status(status: int) -> bool:
    # 501 Not Implemented will never succeed on a resend.
    return status == 429 or (500 <= status <= 599 and status != 501)


RETRYABLE_STATUSES = frozenset(s for s in range(400, 600) if _is_retryable_status(s))
# Statuses that promise the request was not applied, so even a create may be resent.
NOT_APPLIED_STATUSES = frozenset({429, 503})


def default_classify(response: httpx.Response) -> Resolution:
    """The resolution for a response going only by its HTTP status."""
    status = response.status_code
    if status < 400:
        return Resolution.OK
    if _is_retryable_status(status):
        return Resolution.RETRY
    if status == 401:
        return Resolution.REFRESH_AUTH_THEN_RETRY
    return Resolution.FAIL


def parse_retry_after(
    headers: Mapping[str, str] | httpx.Headers, *, now: Callable[[], float] = time.time
) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP date); None if absent/bad."""
    value = headers.get("retry-after") if headers is not None else None
    if value is None:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when is None:
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
        seconds = when.timestamp() - now()
    if seconds != seconds:  # NaN
        return None
    return max(0.0, seconds)


def backoff_delay(
    attempt: int,
    *,
    base: float,
    maximum: float,
    retry_after: float | None = None,
    rng: Callable[[float, float], float] = random.uniform,
) -> float:
    """Seconds before retry number `attempt` (1-based).

    A server's Retry-After wins (clamped to `maximum`); otherwise exponential backoff with full
    jitter: uniform(0, min(maximum, base * 2**(attempt-1))), which spreads concurrent clients apart.
    """
    if retry_after is not None:
        return min(max(retry_after, 0.0), maximum)
    ceiling = min(maximum, base * (2 ** max(attempt - 1, 0)))
    return rng(0.0, ceiling)


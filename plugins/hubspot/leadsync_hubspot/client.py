"""The HubSpot HTTP client: private-app or OAuth auth, the two rate budgets, HubSpot's error answers."""

from __future__ import annotations

import json
import time
from collections.abc import Callable

import httpx

from leadsync.connectors import BearerToken, HttpClient, OAuth2RefreshToken, Rate, RateLimiter, Resolution

from leadsync_hubspot.settings import DEFAULT_REQUESTS_PER_10S, HubSpotSettings

__all__ = ["SEARCH", "TOKEN_PATH", "build_client", "classify"]

# The rate-limit class of CRM search calls: 5/s, exempt from the ten-secondly bucket.
SEARCH = "search"
# HubSpot's date-versioned OAuth token endpoint; the v1 one (/oauth/v1/token) is sunset on 2027-02-16.
TOKEN_PATH = "/oauth/2026-03/token"


def _body(response: httpx.Response) -> dict:
    try:
        payload = json.loads(response.content or b"{}")
    except ValueError:
        return {}
    return payload if isinstance(payload, dict) else {}


def classify(response: httpx.Response) -> Resolution | None:
    """HubSpot specifics; None falls back to the HTTP status.

    - 429 with policyName DAILY: the day's quota is gone, stop cleanly (retrying cannot help).
    - 401: HubSpot says a 401 alone is not a sign to refresh; only EXPIRED_AUTHENTICATION is.
    """
    status = response.status_code
    if status == 429:
        policy = str(_body(response).get("policyName", "")).upper()
        return Resolution.QUOTA_EXHAUSTED if policy == "DAILY" else Resolution.RETRY
    if status == 401:
        category = str(_body(response).get("category", "")).upper()
        return Resolution.REFRESH_AUTH_THEN_RETRY if category == "EXPIRED_AUTHENTICATION" else Resolution.FAIL
    return None


def build_client(
    settings: HubSpotSettings,
    transport: httpx.BaseTransport | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> HttpClient:
    """An HttpClient for one HubSpot account."""
    base = settings.api_base
    if settings.token is not None:
        auth = BearerToken(settings.token)
    else:
        auth = OAuth2RefreshToken(
            settings.token_url or f"{base}{TOKEN_PATH}",
            settings.client_id or "",
            settings.client_secret,
            settings.refresh_token or "",
        )
    by_hand = settings.requests_per_10s is not None
    limiter = RateLimiter(
        {
            "default": Rate(settings.requests_per_10s or DEFAULT_REQUESTS_PER_10S, 10.0),
            SEARCH: Rate(settings.search_rate, 1.0),
        },
        learn=not by_hand,  # a budget set by hand is kept; otherwise HubSpot's announced one is adopted
    )
    return HttpClient(
        base_url=base,
        auth=auth,
        timeout=settings.timeout_s,
        max_retries=settings.max_retries,
        limiter=limiter,
        classify=classify,
        transport=transport,
        sleep=sleep,
    )

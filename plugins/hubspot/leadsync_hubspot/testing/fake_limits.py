"""The fake HubSpot's gate: authentication, OAuth token endpoints, rate limits and their headers.

HubSpot announces the account's budget on every answer (`X-HubSpot-RateLimit-Max` per
`-Interval-Milliseconds`, `-Remaining`) and, on private-app calls, the per-second budget
(`X-HubSpot-RateLimit-Secondly`, `-Secondly-Remaining`); private-app calls also carry the daily
headers, OAuth calls do not. Search answers carry none. Both the ten-secondly and the per-second
budget are enforced here, each a sliding window, with HubSpot's 429 bodies.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import deque
from typing import Any

from leadsync.connectors.testing import FakeApp, Request, Response, route

__all__ = ["HubSpotGate", "error_body"]

TOKEN_PATHS = r"/oauth/(?:v1|2026-03)/token"


def error_body(message: str, category: str = "VALIDATION_ERROR", **extra: Any) -> dict[str, Any]:
    """HubSpot's standard error document."""
    return {"status": "error", "message": message, "correlationId": str(uuid.uuid4()), "category": category, **extra}


def _limit_body(message: str, policy: str) -> dict[str, Any]:
    return {"status": "error", "message": message, "errorType": "RATE_LIMIT", "correlationId": str(uuid.uuid4()),
            "policyName": policy, "requestId": str(uuid.uuid4())}


class HubSpotGate(FakeApp):
    """Auth, OAuth, the budgets HubSpot enforces and the headers it announces them with."""

    rate_limits = {"default": (100, 10.0), "search": (5, 1.0), "oauth": (1000, 10.0)}

    def __init__(self, *, tokens: tuple[str, ...] = ("pat-fake-token",), client_id: str = "cid",
                 client_secret: str = "csecret", refresh_token: str = "rtok", requests_per_10s: int = 100,
                 per_second: int | None = None) -> None:
        self.rate_limits = {**self.rate_limits, "default": (requests_per_10s, 10.0)}
        # HubSpot's per-second budget is a tenth of the ten-secondly one (10 per second for 100 per 10 s).
        self.per_second = per_second or max(1, requests_per_10s // 10)
        self._second: deque[float] = deque()
        self._second_lock = threading.Lock()
        self._creds = {"tokens": list(tokens), "client_id": client_id, "client_secret": client_secret,
                       "refresh_token": refresh_token}
        super().__init__()
        for entry in self.routes:  # every answer carries HubSpot's rate-limit headers
            entry.handler = self._with_limit_headers(entry.handler)

    def gate_config(self) -> dict[str, Any]:
        """The part of `state["config"]` this module reads."""
        return {"daily_limit": None, "token_lifetime_s": 1800, **self._creds}

    def _private(self, request: Request) -> bool:
        return request.bearer in self.state["config"]["tokens"]

    def _with_limit_headers(self, handler: Any) -> Any:
        def wrapped(request: Request) -> Response:
            response = handler(request)
            if request.endpoint != "default":
                return response  # search and OAuth answers announce nothing
            calls, period = self.rate_limits["default"]
            used = len(self._windows.get("default", ()))
            headers = {"X-HubSpot-RateLimit-Max": str(calls), "X-HubSpot-RateLimit-Remaining": str(max(calls - used, 0)),
                       "X-HubSpot-RateLimit-Interval-Milliseconds": str(int(period * 1000))}
            if self._private(request):
                with self._second_lock:
                    spent = self._in_last_second(time.monotonic())
                headers.update({"X-HubSpot-RateLimit-Secondly": str(self.per_second),
                                "X-HubSpot-RateLimit-Secondly-Remaining": str(max(self.per_second - spent, 0))})
                limit = self.state["config"].get("daily_limit")
                if limit is not None:  # OAuth calls get no Daily headers
                    headers.update({"X-HubSpot-RateLimit-Daily": str(limit),
                                    "X-HubSpot-RateLimit-Daily-Remaining": str(max(limit - self.state["daily_used"], 0))})
            response.headers = {**headers, **(response.headers or {})}
            return response

        return wrapped

    def _in_last_second(self, now: float) -> int:
        while self._second and self._second[0] <= now - 1.0:
            self._second.popleft()
        return len(self._second)

    def over_rate_limit(self, endpoint: str, now: float) -> bool:
        """The per-second budget first (a call it refuses does not count against the ten-secondly one)."""
        if endpoint == "default":
            with self._second_lock:
                if self._in_last_second(now) >= self.per_second:
                    return True
                refused = super().over_rate_limit(endpoint, now)
                if not refused:
                    self._second.append(now)
                return refused
        return super().over_rate_limit(endpoint, now)

    def rate_limited_response(self, request: Request) -> Response:
        if request.endpoint == "search":
            return Response(429, json=_limit_body("You have reached your secondly limit.", "SECONDLY"))
        return Response(429, json=_limit_body("You have reached your ten_secondly_rolling limit.", "TEN_SECONDLY_ROLLING"))

    def before_request(self, request: Request) -> Response | None:
        if request.path.startswith("/oauth/"):
            return None
        token = request.bearer
        config = self.state["config"]
        if token in config["tokens"]:
            pass
        elif token in self.state["access_tokens"]:
            if self.state["access_tokens"][token] < time.time():
                return Response(401, json=error_body(
                    "The OAuth token used to make this call expired 1 minute(s) ago.", "EXPIRED_AUTHENTICATION"))
        else:
            return Response(401, json=error_body(
                "Authentication credentials not found. This API supports OAuth 2.0 authentication.",
                "INVALID_AUTHENTICATION"))
        limit = config.get("daily_limit")
        if limit is not None and self.state["daily_used"] >= limit:
            return Response(429, json=_limit_body("You have reached your daily limit.", "DAILY"))
        self.state["daily_used"] += 1
        return None

    @route("POST", TOKEN_PATHS, endpoint="oauth")
    def token(self, request: Request) -> Response:
        """The refresh-token grant on the v1 and the 2026-03 endpoint (form body; RFC 6749 errors)."""
        form, config = request.form, self.state["config"]
        if "client_secret" in request.query or "refresh_token" in request.query:
            return Response(400, json={"error": "invalid_request", "error_description": "credentials belong in the body"})

        def refuse(error: str, status: str, message: str) -> Response:
            return Response(400, json={"error": error, "error_description": message, "status": status, "message": message})

        if form.get("grant_type") != "refresh_token":
            return refuse("unsupported_grant_type", "BAD_GRANT_TYPE", "unsupported grant_type")
        if (form.get("client_id"), form.get("client_secret")) != (config["client_id"], config["client_secret"]):
            return refuse("invalid_client", "BAD_CLIENT_ID", "missing or unknown client id")
        if form.get("refresh_token") != config["refresh_token"]:
            return refuse("invalid_grant", "BAD_REFRESH_TOKEN", "refresh token is invalid, expired or revoked")
        access = f"at-{uuid.uuid4().hex}"
        lifetime = int(config["token_lifetime_s"])
        self.state["access_tokens"][access] = time.time() + lifetime
        self.state.setdefault("token_calls", []).append(request.path)
        return Response(200, json={"token_type": "bearer", "refresh_token": config["refresh_token"],
                                   "access_token": access, "expires_in": lifetime})

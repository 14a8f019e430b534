"""What a fake vendor is made of: requests, responses, routes, state and vendor-shaped limits."""

from __future__ import annotations

import contextlib
import json
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

__all__ = ["FakeApp", "Request", "Response", "route"]


@dataclass
class Request:
    """One request as a handler sees it. `query` keeps the last value per name, `query_lists` all."""

    method: str
    path: str
    query: dict[str, str]
    query_lists: dict[str, list[str]]
    headers: dict[str, str]  # lower-cased names
    body: bytes
    json: Any = None
    form: dict[str, str] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)  # named groups of the route pattern
    endpoint: str = "default"

    def header(self, name: str, default: str | None = None) -> str | None:
        """A header value by case-insensitive name."""
        return self.headers.get(name.lower(), default)

    @property
    def bearer(self) -> str | None:
        """The token of an `Authorization: Bearer` header, if any."""
        value = self.header("authorization") or ""
        return value[7:] if value.lower().startswith("bearer ") else None


@dataclass
class Response:
    """What a handler returns: a status and a JSON document, or raw `body` bytes/text."""

    status: int = 200
    json: Any = None
    headers: dict[str, str] | None = None
    body: bytes | str | None = None

    def encode(self) -> tuple[bytes, dict[str, str]]:
        headers = dict(self.headers or {})
        if self.body is not None:
            payload = self.body.encode() if isinstance(self.body, str) else self.body
            headers.setdefault("Content-Type", "text/plain; charset=utf-8")
        elif self.json is not None:
            payload = json.dumps(self.json, ensure_ascii=False).encode()
            headers.setdefault("Content-Type", "application/json;charset=utf-8")
        else:
            payload = b""
        return payload, headers


Handler = Callable[["FakeApp", Request], Response]


def route(method: str, pattern: str, *, endpoint: str = "default", write: bool | None = None):
    """Mark a FakeApp method as the handler of `method` on paths fully matching regex `pattern`.

    `endpoint` is the rate-limit class the request counts against; `write` says whether the
    handler changes state (default: every method but GET/HEAD), which triggers persistence.
    """

    def decorate(func: Handler) -> Handler:
        routes = getattr(func, "_fake_routes", [])
        # Decorators apply bottom-up: insert first so a handler's routes keep their written order.
        routes.insert(0, (method.upper(), pattern, endpoint, write))
        func._fake_routes = routes  # type: ignore[attr-defined]
        return func

    return decorate


def _declared_names(cls: type) -> list[str]:
    """Attribute names in declaration order: base classes first, each class top to bottom.

    Routes are matched in this order, so a specific pattern declared before a general one wins
    (``/properties/{type}/groups`` before ``/properties/{type}/{name}``). A subclass overriding a
    handler keeps the place of the name it overrides.
    """
    names: dict[str, None] = {}
    for klass in reversed(cls.__mro__):
        names.update(dict.fromkeys(vars(klass)))
    return list(names)


@dataclass
class _Route:
    method: str
    pattern: re.Pattern[str]
    endpoint: str
    write: bool
    handler: Callable[[Request], Response]


class FakeApp:
    """Base of a fake vendor: routes, a JSON-able `state`, and vendor-shaped limits and errors.

    Subclasses declare handlers with ``@route`` (matched in declaration order: the first route
    whose pattern fully matches the path wins), set `rate_limits` ({endpoint class: (calls,
    period_s)}) and `concurrency_limit`, and override `rate_limited_response` so a limit looks
    exactly like the vendor's. Handlers run one at a time under `lock`, so they may mutate
    `state` freely.
    """

    rate_limits: dict[str, tuple[int, float]] = {}
    concurrency_limit: int | None = None

    def __init__(self) -> None:
        self.state: dict[str, Any] = self.initial_state()
        self.lock = threading.RLock()
        self.clock_offset_s = 0.0  # the vendor's clock minus the real one (a skewed vendor clock)
        self._windows: dict[str, deque[float]] = {}
        self._window_lock = threading.Lock()
        self._in_flight = 0
        self.routes: list[_Route] = []
        for name in _declared_names(type(self)):
            func = getattr(type(self), name, None)
            for method, pattern, endpoint, write in getattr(func, "_fake_routes", ()):
                self.routes.append(
                    _Route(
                        method,
                        re.compile(pattern),
                        endpoint,
                        write if write is not None else method not in ("GET", "HEAD"),
                        getattr(self, name),
                    )
                )

    # -- overridable ---------------------------------------------------------------------------

    def now(self) -> float:
        """The vendor's clock (epoch seconds): its Date header and its record stamps."""
        return time.time() + self.clock_offset_s
    def initial_state(self) -> dict[str, Any]:
        """The state of a fresh server (when no state file exists)."""
        return {}

    def load_state(self, state: dict[str, Any]) -> None:
        """Adopt a persisted state (override to convert lists back into richer structures)."""
        self.state = state

    def dump_state(self) -> dict[str, Any]:
        """The JSON-able state to persist."""
        return self.state

    def before_request(self, request: Request) -> Response | None:
        """Check authentication and the like; a Response short-circuits the handler."""
        return None

    def rate_limited_response(self, request: Request) -> Response:
        """What the vendor answers when a rate limit is hit (override per vendor)."""
        return Response(429, json={"message": "rate limit exceeded"})

    def concurrency_limited_response(self, request: Request) -> Response:
        """What the vendor answers when too many requests are in flight."""
        return self.rate_limited_response(request)

    def fault_response(self, request: Request, fault: str) -> Response:
        """The answer for an injected "429", "500" or "503" fault."""
        if fault == "429":
            return self.rate_limited_response(request)
        return Response(int(fault), json={"message": f"injected fault {fault}"})

    # -- dispatch ------------------------------------------------------------------------------
    def match(self, request: Request) -> _Route | Response:
        allowed = False
        for candidate in self.routes:
            found = candidate.pattern.fullmatch(request.path)
            if not found:
                continue
            if candidate.method != request.method:
                allowed = True
                continue
            request.params = {k: v for k, v in found.groupdict().items() if v is not None}
            request.endpoint = candidate.endpoint
            return candidate
        if allowed:
            return Response(405, json={"message": f"{request.method} not allowed on {request.path}"})
        return Response(404, json={"message": f"no fake route for {request.method} {request.path}"})

    def over_rate_limit(self, endpoint: str, now: float) -> bool:
        """Count one call on `endpoint`'s sliding window; True when it is over the limit."""
        key = endpoint if endpoint in self.rate_limits else "default"
        limit = self.rate_limits.get(key)
        if limit is None:
            return False
        calls, period = limit
        with self._window_lock:
            window = self._windows.setdefault(key, deque())
            while window and window[0] <= now - period:
                window.popleft()
            if len(window) >= calls:
                return True  # rejected calls do not count against the window
            window.append(now)
            return False

    @contextlib.contextmanager
    def in_flight(self) -> Iterator[bool]:
        """Track a request in flight; yields False when it exceeds `concurrency_limit`."""
        with self._window_lock:
            self._in_flight += 1
            within = self.concurrency_limit is None or self._in_flight <= self.concurrency_limit
        try:
            yield within
        finally:
            with self._window_lock:
                self._in_flight -= 1

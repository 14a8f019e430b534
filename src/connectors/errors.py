"""Errors the connector toolkit raises; every message is redacted before it is stored."""

from __future__ import annotations

import json
from typing import Any

import httpx

from leadsync.connectors.redact import redact
from leadsync.core.errors import EXIT_CONNECTION, ConnectionFailed, LeadsyncError

__all__ = [
    "AmbiguousWriteError",
    "AuthError",
    "ClientError",
    "ConnectorError",
    "HttpStatusError",
    "PaginationLoopError",
    "RateLimitExhausted",
    "SetupMissing",
    "VendorUnavailable",
    "excerpt",
    "parse_body",
]

_EXCERPT_CHARS = 300


def parse_body(response: httpx.Response) -> Any:
    """The response body as parsed JSON, else as text ('' when empty or unreadable)."""
    try:
        content = response.content
    except httpx.ResponseNotRead:
        return ""
    if not content:
        return ""
    try:
        return json.loads(content)
    except ValueError:
        return response.text


def excerpt(body: Any, limit: int = _EXCERPT_CHARS) -> str:
    """A short, redacted, one-line rendering of a vendor's response body."""
    text = body if isinstance(body, str) else json.dumps(body, ensure_ascii=False, default=str)
    text = " ".join(redact(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


class ConnectorError(LeadsyncError):
    """Base of every toolkit error. The message is redacted; uncaught, it ends the run with exit 4."""

    exit_code = EXIT_CONNECTION

    def __init__(self, message: str) -> None:
        self.message = redact(message)
        super().__init__(self.message)

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r})"


class HttpStatusError(ConnectorError):
    """The vendor answered with a status (or body) the caller must not ignore."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        body: Any = None,
        method: str | None = None,
        url: str | None = None,
    ) -> None:
        self.status = status
        self.body = body
        self.method = method
        self.url = redact(url) if url is not None else None
        self.vendor_message = excerpt(body) if body not in (None, "") else ""
        where = f" ({method} {self.url})" if method and self.url else ""
        detail = f": {self.vendor_message}" if self.vendor_message else ""
        prefix = f"HTTP {status} " if status is not None else ""
        super().__init__(f"{prefix}{message}{where}{detail}")

    @classmethod
    def from_response(cls, message: str, response: httpx.Response) -> HttpStatusError:
        """Build the error from a response: status, parsed body, method and URL."""
        return cls(
            message,
            status=response.status_code,
            body=parse_body(response),
            method=response.request.method,
            url=str(response.request.url),
        )

    @property
    def json(self) -> Any:
        """The parsed JSON body (None when the body was not JSON)."""
        return self.body if isinstance(self.body, (dict, list)) else None


class ClientError(HttpStatusError):
    """A 4xx (or a vendor error the plugin marked FAIL): retrying will not help."""


class AuthError(HttpStatusError, ConnectionFailed):
    """The vendor rejected the credentials (or the token endpoint did): the run cannot go on."""


class SetupMissing(HttpStatusError, ConnectionFailed):
    """The vendor lacks what `leadsync connections setup` creates (a custom property or field).

    `missing` names it in the vendor's words. The engine stops writing to that connection, keeps
    every write of the batch in the outbox (none was applied), and ends the run with exit 4 and
    the command to run; nothing is dead-lettered.
    """

    def __init__(self, missing: str, **kwargs: Any) -> None:
        self.missing = missing
        super().__init__(f"not set up: {missing}", **kwargs)


class RateLimitExhausted(HttpStatusError):
    """A quota that will not recover soon (daily limit) is used up: checkpoint and stop cleanly."""


class VendorUnavailable(HttpStatusError, ConnectionFailed):
    """Retries were exhausted on 5xx answers, timeouts or connection errors."""


class AmbiguousWriteError(ConnectorError):
    """A non-idempotent request may or may not have been applied: look before creating again."""

    def __init__(self, method: str, url: str, cause: BaseException | str) -> None:
        self.method = method
        self.url = redact(url)
        self.cause = redact(cause if isinstance(cause, str) else f"{type(cause).__name__}: {cause}")
        super().__init__(
            f"{method} {self.url} may have been applied but no answer came back ({self.cause}); "
            "check whether it took effect before sending it again"
        )


class PaginationLoopError(ConnectorError):
    """A vendor handed back a page token it had already given: paging would never end."""

"""Marketo answer envelopes and timestamps, shared by the fake's modules."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

__all__ = ["envelope", "error_envelope", "iso", "now"]


def envelope(result: list[Any] | None = None, **extra: Any) -> dict[str, Any]:
    """A successful Marketo answer."""
    return {"requestId": "fake#1", "success": True, "result": result or [], **extra}


def error_envelope(code: str, message: str = "error") -> dict[str, Any]:
    """A response-level Marketo error (sent with HTTP 200)."""
    return {"requestId": "fake#1", "success": False, "errors": [{"code": code, "message": message}]}


def now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def iso(value: str) -> str:
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")

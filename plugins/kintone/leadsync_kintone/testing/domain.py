"""The parts of a fake cybozu.com domain around kintone: the guest-space URL form, the domain's
Basic authentication, the API-token count limit and the User API's user directory."""

from __future__ import annotations

import base64
import re
from typing import Any

import httpx

__all__ = ["MAX_TOKENS", "UserDirectory", "basic_ok", "guest_path"]

MAX_TOKENS = 9  # kintone: at most 9 API tokens in one request; 10 or more is an error
_GUEST = re.compile(r"^/k/guest/(\d+)/v1/")


def guest_path(path: str) -> tuple[int | None, str]:
    """(guest space id or None, the path in its /k/v1/ form)."""
    match = _GUEST.match(path)
    if not match:
        return None, path
    return int(match.group(1)), "/k/v1/" + path[match.end():]


def basic_ok(headers: httpx.Headers, credentials: tuple[str, str]) -> bool:
    """True when `Authorization: Basic` carries the domain's Basic-authentication login."""
    value = headers.get("authorization") or ""
    if not value.startswith("Basic "):
        return False
    try:
        return base64.b64decode(value[6:]).decode() == f"{credentials[0]}:{credentials[1]}"
    except ValueError:
        return False


class UserDirectory:
    """cybozu.com users for `GET /v1/users.json` (ids or codes, else size/offset paging)."""

    def __init__(self) -> None:
        self.users: list[dict[str, Any]] = []
        self.calls = 0

    def add(self, code: str, email: str, *, name: str = "", valid: bool = True) -> None:
        self.users.append({"id": str(len(self.users) + 1), "code": code, "name": name or code, "email": email,
                           "valid": valid})

    def get(self, params: dict[str, Any], headers: httpx.Headers,
            logins: dict[str, str]) -> tuple[int, dict[str, Any]]:
        self.calls += 1
        if headers.get("x-cybozu-api-token") and not headers.get("x-cybozu-authorization"):
            # an app's API token is not a credential of the User API
            return 401, {"code": "CB_AU01", "id": "fake", "message": "Please login."}
        login = headers.get("x-cybozu-authorization")
        if not login:
            return 401, {"code": "CB_AU01", "id": "fake", "message": "Please login."}
        name, _, password = base64.b64decode(login).decode().partition(":")
        if logins.get(name) != password:
            return 401, {"code": "CB_WA01", "id": "fake", "message": "Password authentication failed."}
        codes = [v for k, v in params.items() if k.startswith("codes")]
        ids = [v for k, v in params.items() if k.startswith("ids")]
        if codes and ids:
            return 400, {"code": "CB_VA01", "id": "fake", "message": "ids and codes cannot be given together."}
        size = int(params.get("size", 100))
        if not 1 <= size <= 100:
            return 400, {"code": "CB_VA01", "id": "fake", "message": "size must be 1 to 100."}
        if codes or ids:
            found = [u for u in self.users if u["code"] in codes or u["id"] in ids]
            return 200, {"users": found[:100]}
        offset = int(params.get("offset", 0))
        return 200, {"users": self.users[offset:offset + size]}

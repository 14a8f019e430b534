"""Sales reps as kintone users: a user-selection field takes a login name (`code`), so an e-mail in
the configuration is resolved through the cybozu.com User API (`GET /v1/users.json`): the domain's
users are read once per run (100 a call) and every name is resolved from that list.

The User API takes password authentication, not a kintone app's API token; a connection that only
has API tokens takes login names as they are and reports e-mails it cannot resolve.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from leadsync.connectors import Owner, normalize_email

from leadsync_kintone.client import KintoneClient

__all__ = ["USERS_PAGE", "all_users", "resolve_owners"]

USERS_PAGE = 100  # the User API answers at most 100 users a call (`size` 1..100)


def all_users(client: KintoneClient) -> list[dict[str, Any]]:
    """Every user of the domain, 100 a call (the User API has no filter by e-mail)."""
    users: list[dict[str, Any]] = []
    offset = 0
    while True:
        page = client.call("GET", "/v1/users.json", params={"size": USERS_PAGE, "offset": offset}).get("users") or []
        users += page
        if len(page) < USERS_PAGE:
            return users
        offset += USERS_PAGE


def _owner(ref: str, user: dict[str, Any] | None, matches: int = 1) -> Owner:
    if matches > 1:
        return Owner(ref, None, problem="several kintone users have this e-mail; name the rep by login name")
    if user is None:
        return Owner(ref, None, problem="no kintone user has this login name or e-mail")
    valid = bool(user.get("valid", True))
    code = str(user["code"])
    return Owner(ref, code, active=valid, name=str(user.get("name") or ""),
                 problem="" if valid else f"kintone user {code} is suspended (valid: false)")


def resolve_owners(client: KintoneClient, refs: Sequence[str],
                   directory: Callable[[], list[dict[str, Any]]] | None = None) -> dict[str, Owner]:
    """Each name as the kintone login name a user-selection field takes (every ref present).
    `directory` gives the domain's users (the connector reads them once per run)."""
    wanted = [r for r in dict.fromkeys(refs) if r and r.strip()]
    emails = [r for r in wanted if "@" in r and normalize_email(r)]
    codes = [r for r in wanted if r not in emails]
    found: dict[str, Owner] = {}
    if client.settings.api_token is not None and client.settings.username is None:
        for ref in codes:  # app API tokens cannot read the user directory: trust the login name
            found[ref] = Owner(ref, ref)
        for ref in emails:
            found[ref] = Owner(ref, None, problem="kintone API tokens cannot read users: name the rep by login "
                                                  "name, or use password authentication")
    else:
        users = (directory or (lambda: all_users(client)))()
        by_code = {str(u.get("code")): u for u in users}
        for ref in codes:
            found[ref] = _owner(ref, by_code.get(ref))
        for ref in emails:
            # A login name may itself be an e-mail address; it wins over a user's e-mail.
            same = [u for u in users if str(u.get("code", "")).lower() == ref.lower()] or \
                [u for u in users if normalize_email(str(u.get("email") or "")) == normalize_email(ref)]
            found[ref] = _owner(ref, same[0] if same else None, matches=len(same))
    return {ref: found.get(ref) or Owner(ref, None, problem="empty name") for ref in refs}

"""Sales reps as Salesforce Users: an e-mail, a username or a User id resolved to the User id a
Task's OwnerId takes, with one SOQL query per batch of names (IsActive false: deactivated)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from leadsync.connectors import Owner

from leadsync_salesforce.client import SalesforceClient, soql_string

__all__ = ["resolve_owners", "user_queries"]

_USER_ID = re.compile(r"^005[0-9A-Za-z]{12}(?:[0-9A-Za-z]{3})?$")
_CHUNK = 100  # names per query: well inside the URI budget


def user_queries(refs: Sequence[str]) -> list[str]:
    """SOQL for the Users these names may mean: by Id (005...), by Username, by Email."""
    queries = []
    for start in range(0, len(refs), _CHUNK):
        chunk = refs[start:start + _CHUNK]
        ids = [r for r in chunk if _USER_ID.match(r)]
        names = list(dict.fromkeys(v for r in chunk if not _USER_ID.match(r) for v in (r, r.lower())))
        where = []
        if ids:
            where.append("Id IN (" + ", ".join(soql_string(i) for i in ids) + ")")
        if names:
            literals = ", ".join(soql_string(n) for n in names)
            where.append(f"Username IN ({literals}) OR Email IN ({literals})")
        queries.append("SELECT Id, Username, Email, Name, IsActive FROM User WHERE " + " OR ".join(where)
                       + " ORDER BY CreatedDate ASC, Id ASC")
    return queries


def _owner(ref: str, users: list[dict[str, Any]]) -> Owner:
    if _USER_ID.match(ref):
        match = [u for u in users if str(u.get("Id", ""))[:15] == ref[:15]]
    else:
        wanted = ref.strip().lower()
        match = [u for u in users if str(u.get("Username") or "").lower() == wanted]
        if not match:
            by_email = [u for u in users if str(u.get("Email") or "").lower() == wanted]
            active = [u for u in by_email if u.get("IsActive")]
            if len(active) > 1:
                ids = ", ".join(str(u["Id"]) for u in active)
                return Owner(ref, None, problem=f"several active Salesforce Users have this e-mail ({ids}); "
                                               "name the rep by username or User id")
            match = active or by_email
    if not match:
        return Owner(ref, None, problem="no Salesforce User has this id, username or e-mail")
    user = match[0]
    active = bool(user.get("IsActive"))
    return Owner(ref, str(user["Id"]), active=active, name=str(user.get("Name") or ""),
                 problem="" if active else f"Salesforce User {user['Id']} is inactive")


def resolve_owners(client: SalesforceClient, refs: Sequence[str]) -> dict[str, Owner]:
    """Each name as the Salesforce User it means (every ref present in the answer)."""
    wanted = [r for r in dict.fromkeys(refs) if r and r.strip()]
    users: list[dict[str, Any]] = []
    for soql in user_queries(wanted):
        for page in client.query(soql):
            users.extend(page)
    found = {ref: _owner(ref, users) for ref in wanted}
    return {ref: found.get(ref) or Owner(ref, None, problem="empty name") for ref in refs}

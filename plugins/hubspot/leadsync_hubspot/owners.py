"""Reps as HubSpot knows them: an e-mail or an owner id resolved through `/crm/v3/owners`.

HubSpot's owners API returns two ids per owner: `id`, the owner id that `hubspot_owner_id` takes,
and `userId`, which "will result in an error if it is used to assign ownership". Deactivated users
are archived owners, listed only with `archived=true`: they resolve, inactive.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from leadsync.connectors import HttpClient, HttpStatusError, Owner, normalize_email

from leadsync_hubspot.primary import json_object

__all__ = ["resolve_owners"]

OWNERS_PAGE = 500  # the owners API's largest page


def _owners(client: HttpClient, params: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every owner matching `params`, following `paging.next.after`."""
    after: str | None = None
    while True:
        query = {**params, "limit": OWNERS_PAGE, **({"after": after} if after else {})}
        payload = json_object(client.get("/crm/v3/owners", params=query), "owners list")
        for owner in payload.get("results") or []:
            if isinstance(owner, dict):
                yield owner
        after = ((payload.get("paging") or {}).get("next") or {}).get("after")
        if not after:
            return


def _owner(client: HttpClient, owner_id: str, **params: str) -> dict[str, Any] | None:
    try:
        return json_object(client.get(f"/crm/v3/owners/{owner_id}", params=params), "owner read")
    except HttpStatusError as exc:
        if exc.status == 404:
            return None
        raise


def _name(owner: dict[str, Any]) -> str:
    return " ".join(p for p in (owner.get("firstName"), owner.get("lastName")) if p) or str(owner.get("email") or "")


def _as_owner(ref: str, found: dict[str, Any], archived: bool) -> Owner:
    problem = "archived (deactivated) in HubSpot" if archived else ""
    return Owner(ref=ref, id=str(found["id"]), active=not archived, name=_name(found), problem=problem)


def _by_email(client: HttpClient, ref: str) -> Owner:
    email = normalize_email(ref) or ref.strip().lower()
    for archived in (False, True):
        for owner in _owners(client, {"email": email, "archived": str(archived).lower()}):
            if str(owner.get("email") or "").strip().lower() == email and owner.get("id") is not None:
                return _as_owner(ref, owner, archived)
    return Owner(ref=ref, id=None, problem=f"no HubSpot owner has the e-mail {email}")


def _by_id(client: HttpClient, ref: str) -> Owner:
    for archived in (False, True):
        found = _owner(client, ref, archived=str(archived).lower())
        if found is not None and str(found.get("id")) == ref:
            return _as_owner(ref, found, archived)
    as_user = _owner(client, ref, idProperty="userId")
    if as_user is not None and as_user.get("id") is not None:
        return Owner(ref=ref, id=None, problem=(
            f"{ref} is a HubSpot user id (userId), not an owner id; use the owner id {as_user['id']} "
            f"or the e-mail {as_user.get('email') or ''}".rstrip()))
    return Owner(ref=ref, id=None, problem=f"no HubSpot owner has the id {ref}")


def resolve_owners(client: HttpClient, refs: Sequence[str]) -> dict[str, Owner]:
    """ref -> Owner for every ref: e-mails by the owners API's `email` filter, digits as owner ids."""
    found: dict[str, Owner] = {}
    for ref in dict.fromkeys(r for r in refs if r):
        text = ref.strip()
        if "@" in text:
            found[ref] = _by_email(client, text)
        elif text.isdigit():
            found[ref] = _by_id(client, text)
        else:
            found[ref] = Owner(ref=ref, id=None, problem=(
                "HubSpot needs an owner's e-mail or owner id (from /crm/v3/owners), not a name"))
    return found

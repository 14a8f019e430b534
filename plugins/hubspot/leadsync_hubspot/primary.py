"""Reads of HubSpot's primary store (never the search index): contacts' tasks and contacts by e-mail.

HubSpot documents CRM search as eventually consistent: a record written a moment ago may be missing
from it. Object reads (batch read) and associations reads answer from the CRM records themselves,
so a task HubSpot has created is seen by them at once. Everything leadsync decides before it
creates or archives a task is read here.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from leadsync.connectors import ConnectorError, HttpClient, normalize_email

from leadsync_hubspot.settings import HubSpotSettings

__all__ = [
    "ASSOCIATIONS_BATCH",
    "OBJECTS_BATCH",
    "ContactTask",
    "associated_ids",
    "contacts_by_email",
    "json_object",
    "tasks_of_contacts",
]

# HubSpot's documented maxima: 1,000 inputs a v4 associations batch read (changelog, 2025-02-10);
# 100 inputs a CRM objects batch call (read, create, update, archive).
ASSOCIATIONS_BATCH = 1000
OBJECTS_BATCH = 100
TASK_STATUS_COMPLETED = "COMPLETED"


@dataclass(frozen=True)
class ContactTask:
    """A live task associated with a contact, as the primary store holds it."""

    id: str
    contact_id: str
    key: str | None  # the leadsync key property; None for a task leadsync did not create
    status: str | None
    created_ms: int
    owner: str | None

    @property
    def open(self) -> bool:
        return (self.status or "").upper() != TASK_STATUS_COMPLETED

    def age(self) -> tuple[int, int]:
        """Sort key: oldest first (creation time, then id)."""
        return (self.created_ms, int(self.id) if self.id.isdigit() else 0)


def json_object(response: Any, what: str) -> dict[str, Any]:
    """The JSON object of a HubSpot answer; ConnectorError when the body is not one."""
    try:
        payload = response.json()
    except ValueError:
        raise ConnectorError(f"HubSpot {what} answered with a body that is not JSON") from None
    if not isinstance(payload, dict):
        raise ConnectorError(f"HubSpot {what} answered with {type(payload).__name__}, not an object")
    return payload


def _chunks(items: Sequence[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield list(items[start : start + size])


def associated_ids(client: HttpClient, from_type: str, to_type: str, ids: Sequence[str]) -> dict[str, list[str]]:
    """id -> ids of its associated `to_type` records (v4 associations batch read, every page).

    Each input's own `paging.next.after` is followed (sent back alongside that input's id). A 207's
    per-input errors are read: `NO_ASSOCIATIONS_FOUND` means none; any other error fails the read
    (ConnectorError) rather than dropping that input's associations.
    """
    found: dict[str, list[str]] = {c: [] for c in ids}
    for chunk in _chunks(list(ids), ASSOCIATIONS_BATCH):
        inputs: list[dict[str, str]] = [{"id": c} for c in chunk]
        while inputs:
            response = client.post(
                f"/crm/v4/associations/{from_type}/{to_type}/batch/read", json={"inputs": inputs}, idempotent=True
            )
            payload = json_object(response, "associations batch read")
            results = payload.get("results")
            if not isinstance(results, list):
                raise ConnectorError("HubSpot associations batch read answer has no results list")
            for error in payload.get("errors") or []:
                if not _no_associations(error):
                    raise ConnectorError(
                        f"HubSpot associations batch read ({from_type} -> {to_type}) failed for "
                        f"{', '.join(_error_ids(error)) or 'some inputs'}: {error.get('category')}: {error.get('message')}"
                    )
            following: list[dict[str, str]] = []
            for result in results:
                source = str((result.get("from") or {}).get("id") or "")
                if source not in found:
                    continue
                for target in result.get("to") or []:
                    other = target.get("toObjectId")
                    if other is not None and str(other) not in found[source]:
                        found[source].append(str(other))
                after = ((result.get("paging") or {}).get("next") or {}).get("after")
                if after:
                    following.append({"id": source, "after": str(after)})
            inputs = following
    return found


def _no_associations(error: dict[str, Any]) -> bool:
    sub = str(error.get("subCategory") or "")
    return sub.endswith("NO_ASSOCIATIONS_FOUND") or (
        error.get("category") == "OBJECT_NOT_FOUND" and "associat" in str(error.get("message") or "").lower())


def _error_ids(error: dict[str, Any]) -> list[str]:
    context = error.get("context") or {}
    ids = context.get("fromObjectId") or context.get("ids") or []
    return [str(i) for i in (ids if isinstance(ids, list) else [ids])]


def _associated_task_ids(client: HttpClient, contact_ids: Sequence[str]) -> dict[str, list[str]]:
    """contact id -> ids of its associated tasks."""
    return associated_ids(client, "contacts", "tasks", contact_ids)


def _created_ms(record: dict[str, Any]) -> int:
    props = record.get("properties") or {}
    for value in (props.get("hs_createdate"), props.get("createdate"), record.get("createdAt")):
        if value in (None, ""):
            continue
        text = str(value)
        if text.isdigit():
            return int(text)
        try:
            return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)
        except ValueError:
            continue
    return 0


def tasks_of_contacts(
    client: HttpClient, settings: HubSpotSettings, contact_ids: Iterable[str]
) -> dict[str, list[ContactTask]]:
    """contact id -> its live tasks, oldest first, read from the primary store."""
    wanted = sorted({str(c) for c in contact_ids if c})
    if not wanted:
        return {}
    links = _associated_task_ids(client, wanted)
    contact_of: dict[str, str] = {}
    for contact, task_ids in links.items():
        for task_id in task_ids:
            contact_of.setdefault(task_id, contact)
    prop = settings.field("task_key")
    properties = [prop, "hs_task_status", "hs_createdate", "createdate", "hubspot_owner_id"]
    tasks: dict[str, list[ContactTask]] = {c: [] for c in wanted}
    for chunk in _chunks(sorted(contact_of, key=lambda i: (len(i), i)), OBJECTS_BATCH):
        response = client.post(
            "/crm/v3/objects/tasks/batch/read",
            params={"archived": "false"},
            json={"inputs": [{"id": i} for i in chunk], "properties": properties},
            idempotent=True,
        )
        payload = json_object(response, "tasks batch read")
        results = payload.get("results")
        if not isinstance(results, list):
            raise ConnectorError("HubSpot tasks batch read answer has no results list")
        # A task archived between the two reads is reported as not found: it is not live.
        for record in results:
            task_id = str(record.get("id") or "")
            if task_id not in contact_of or record.get("archived"):
                continue
            props = record.get("properties") or {}
            key = props.get(prop)
            tasks[contact_of[task_id]].append(
                ContactTask(
                    id=task_id,
                    contact_id=contact_of[task_id],
                    key=str(key) if key not in (None, "") else None,
                    status=props.get("hs_task_status"),
                    created_ms=_created_ms(record),
                    owner=props.get("hubspot_owner_id"),
                )
            )
    for found in tasks.values():
        found.sort(key=ContactTask.age)
    return tasks


def contacts_by_email(client: HttpClient, emails: Iterable[str]) -> dict[str, str]:
    """Normalized e-mail -> id of the live contacts that have it (batch read by the email property)."""
    wanted = sorted({e for e in emails if e})
    found: dict[str, str] = {}
    for chunk in _chunks(wanted, OBJECTS_BATCH):
        response = client.post(
            "/crm/v3/objects/contacts/batch/read",
            json={"inputs": [{"id": e} for e in chunk], "idProperty": "email", "properties": ["email"]},
            idempotent=True,
        )
        payload = json_object(response, "contacts batch read")
        for record in payload.get("results") or []:
            email = normalize_email((record.get("properties") or {}).get("email"))
            if email and record.get("id") is not None:
                found[email] = str(record["id"])
    return found

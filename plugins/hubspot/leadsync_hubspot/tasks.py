"""Follow-up tasks, exactly once: look in the primary store before creating, adopt, reconcile.

Every decision reads HubSpot's primary store (`primary.tasks_of_contacts`), never search:
- before a create, a live task of the lead's contact carrying the key means "already done";
- an open leadsync task of that contact under another key is adopted (the local state lost the
  write that made it) instead of creating a second one;
- a create whose answer was lost (timeout, reset after apply, a 2xx whose body is not the expected
  JSON) is looked up again at once: found is done, not found stays retryable;
- `reconcile_tasks` archives the younger of two live tasks with one key (a create HubSpot applied
  after its answer was lost, then sent again).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from leadsync.connectors import (
    AmbiguousWriteError,
    BatchRejected,
    ClientError,
    ConnectorError,
    HttpClient,
    RemovedTask,
    TaskCheck,
    TaskRequest,
    WriteResult,
    bisect_batch,
    normalize_email,
)

from leadsync_hubspot.primary import OBJECTS_BATCH, ContactTask, contacts_by_email, tasks_of_contacts
from leadsync_hubspot.settings import HubSpotSettings
from leadsync_hubspot.errors import error_text, setup_missing
from leadsync_hubspot.writes import error_targets, retryable_error

__all__ = ["TASK_CONTACT_ASSOCIATION", "create_tasks", "reconcile_tasks"]

log = logging.getLogger(__name__)

TASK_CONTACT_ASSOCIATION = {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 204}
_PRIORITIES = {"high": "HIGH", "medium": "MEDIUM", "normal": "MEDIUM", "low": "LOW"}


def _upsert_contacts(client: HttpClient, emails: list[str]) -> dict[str, str]:
    """Upsert contacts by e-mail (idempotent: HubSpot matches the unique email) -> e-mail: id."""
    found: dict[str, str] = {}
    for start in range(0, len(emails), OBJECTS_BATCH):
        chunk = emails[start : start + OBJECTS_BATCH]
        body = {"inputs": [{"id": e, "idProperty": "email", "properties": {"email": e}} for e in chunk]}
        response = client.post("/crm/v3/objects/contacts/batch/upsert", json=body, idempotent=True)
        try:
            payload = response.json()
        except ValueError:
            payload = {}
        for record in (payload.get("results") if isinstance(payload, dict) else None) or []:
            email = normalize_email((record.get("properties") or {}).get("email"))
            if email:
                found[email] = str(record.get("id"))
        missing = [e for e in chunk if e not in found]
        if missing:  # an answer that lost some records: the upsert is idempotent, read them back
            found.update(contacts_by_email(client, missing))
    return found


def _task_properties(task: TaskRequest, settings: HubSpotSettings) -> dict[str, str]:
    props = {
        "hs_timestamp": str(int(task.due_at.timestamp() * 1000)),
        "hs_task_subject": task.subject,
        "hs_task_body": task.body,
        "hs_task_status": "NOT_STARTED",
        "hs_task_priority": _PRIORITIES.get(task.priority.lower(), "HIGH"),
        "hs_task_type": settings.task_type,
        settings.field("task_key"): task.key,
    }
    if task.owner:
        props["hubspot_owner_id"] = task.owner
    return props


def _already_there(task: TaskRequest, held: list[ContactTask], claimed: set[str]) -> WriteResult | None:
    """The result for a task the contact already has (same key), or an open one to adopt."""
    same = [t for t in held if t.key == task.key]
    if same:
        return WriteResult(task.key, True, external_id=same[0].id)
    adoptable = [t for t in held if t.key and t.open and t.id not in claimed]
    if adoptable:
        chosen = adoptable[0]  # the oldest
        claimed.add(chosen.id)
        log.warning(
            "HubSpot: contact %s already has open leadsync task %s (key %s); adopting it for %s instead of creating another",
            chosen.contact_id, chosen.id, chosen.key, task.key,
        )
        return WriteResult(task.key, True, external_id=chosen.id, adopted_key=chosen.key)
    return None


def create_tasks(client: HttpClient, settings: HubSpotSettings, tasks: Sequence[TaskRequest]) -> list[WriteResult]:
    """Create each task at most once, deciding from the primary store, never from search."""
    results: dict[str, WriteResult] = {}
    emails = sorted({normalize_email(t.email) for t in tasks if not t.record_id and normalize_email(t.email)})
    contact_ids = _upsert_contacts(client, emails) if emails else {}
    contact_of: dict[str, str] = {}
    for task in tasks:
        contact = task.record_id or contact_ids.get(normalize_email(task.email) or "")
        if contact:
            contact_of[task.key] = str(contact)
        else:
            results[task.key] = WriteResult(task.key, False, error="no HubSpot contact and no e-mail to create one")
    held = tasks_of_contacts(client, settings, contact_of.values())
    claimed: set[str] = set()
    missing: list[TaskRequest] = []
    for task in tasks:
        if task.key not in contact_of or task.key in results:
            continue
        found = _already_there(task, held.get(contact_of[task.key], []), claimed)
        if found is not None:
            results[task.key] = found
        else:
            missing.append(task)
    if missing:
        # A 400 for the whole batch (one bad owner id, one bad value) is bisected like score
        # batches: HubSpot applied none of it, so resending the good halves creates each once.
        for item in bisect_batch(missing, lambda batch: _create(client, settings, batch, contact_of)):
            results[item.item.key] = item.result if item.ok and item.result else WriteResult(
                item.item.key, False, error=item.error)
    return [results[t.key] for t in tasks]


def _create(
    client: HttpClient, settings: HubSpotSettings, batch: list[TaskRequest], contact_of: dict[str, str]
) -> list[WriteResult]:
    body = {
        "inputs": [
            {
                "objectWriteTraceId": t.key,  # one per input: 207 with per-input errors instead of all-or-nothing
                "properties": _task_properties(t, settings),
                "associations": [{"to": {"id": contact_of[t.key]}, "types": [TASK_CONTACT_ASSOCIATION]}],
            }
            for t in batch
        ]
    }
    try:
        response = client.post("/crm/v3/objects/tasks/batch/create", json=body)
    except ClientError as exc:
        if exc.status != 400:
            reason = error_text(exc.json or {"message": str(exc)})
            return [WriteResult(t.key, False, error=reason) for t in batch]
        missing = setup_missing(exc, "tasks")
        if missing is not None:
            raise missing from None
        raise BatchRejected(error_text(exc.json or {"message": str(exc)})) from None
    except AmbiguousWriteError as exc:
        return _look_again(client, settings, batch, contact_of, str(exc))
    try:
        payload: Any = response.json()
    except ValueError:
        payload = None
    if not isinstance(payload, dict) or not isinstance(payload.get("results"), list):
        # HubSpot said 2xx but the body is cut or not the batch answer: it may have created them.
        reason = f"HubSpot answered the task create with HTTP {response.status_code} and a body that is not the batch answer"
        return _look_again(client, settings, batch, contact_of, reason)
    prop = settings.field("task_key")
    created: dict[str, str] = {}
    for record in payload["results"]:
        key = record.get("objectWriteTraceId") or (record.get("properties") or {}).get(prop)
        if key and record.get("id") is not None:
            created[str(key)] = str(record["id"])
    errors: dict[str, dict[str, Any]] = {}
    for error in payload.get("errors") or []:
        for target in error_targets(error):
            errors[target] = error
    out: dict[str, WriteResult] = {}
    unreported: list[TaskRequest] = []
    for task in batch:
        if task.key in created:
            out[task.key] = WriteResult(task.key, True, external_id=created[task.key])
        elif task.key in errors:
            error = errors[task.key]
            out[task.key] = WriteResult(task.key, False, error=error_text(error), retryable=retryable_error(error))
        else:
            unreported.append(task)
    if unreported:
        for result in _look_again(client, settings, unreported, contact_of, "HubSpot did not report this task"):
            out[result.key] = result
    return [out[t.key] for t in batch]  # in input order


def _look_again(
    client: HttpClient, settings: HubSpotSettings, batch: list[TaskRequest], contact_of: dict[str, str], reason: str
) -> list[WriteResult]:
    """After a create whose outcome is unknown: found in the primary store is done, else retryable."""
    log.warning("HubSpot task create unconfirmed (%s); looking in the CRM for %d task(s)", reason, len(batch))
    try:
        held = tasks_of_contacts(client, settings, {contact_of[t.key] for t in batch})
    except ConnectorError as exc:
        return [WriteResult(t.key, False, error=f"{reason}; looking again failed: {exc}", retryable=True) for t in batch]
    out = []
    for task in batch:
        same = [t for t in held.get(contact_of[task.key], []) if t.key == task.key]
        out.append(
            WriteResult(task.key, True, external_id=same[0].id)
            if same
            else WriteResult(task.key, False, error=f"{reason}; not in HubSpot yet, sent again next run", retryable=True)
        )
    return out


def reconcile_tasks(client: HttpClient, settings: HubSpotSettings, checks: Sequence[TaskCheck]) -> list[RemovedTask]:
    """Archive every live task but the oldest among those of one contact sharing a check's key."""
    by_key = {c.key: c for c in checks}
    emails = sorted({normalize_email(c.email) or "" for c in by_key.values() if not c.record_id} - {""})
    known = contacts_by_email(client, emails) if emails else {}
    contact_of: dict[str, str] = {}
    for check in by_key.values():
        contact = check.record_id or known.get(normalize_email(check.email) or "")
        if contact:
            contact_of[check.key] = str(contact)
        else:
            log.warning("HubSpot: no contact found for handoff %s; its tasks cannot be reconciled", check.key)
    held = tasks_of_contacts(client, settings, contact_of.values())
    extras: list[RemovedTask] = []
    for key, contact in contact_of.items():
        same = [t for t in held.get(contact, []) if t.key == key]  # oldest first
        extras += [RemovedTask(key=key, external_id=t.id, kept=same[0].id) for t in same[1:]]
    removed: list[RemovedTask] = []
    for start in range(0, len(extras), OBJECTS_BATCH):
        chunk = extras[start : start + OBJECTS_BATCH]
        try:
            client.post(
                "/crm/v3/objects/tasks/batch/archive",
                json={"inputs": [{"id": r.external_id} for r in chunk]},
                idempotent=True,  # archiving twice leaves the same state
            )
        except ConnectorError:
            if not removed:
                raise
            log.warning("HubSpot: archiving duplicate tasks stopped after %d; the next run goes on", len(removed))
            break
        for item in chunk:
            log.warning("HubSpot: archived duplicate task %s of handoff %s (kept %s, the oldest)", item.external_id, item.key, item.kept)
        removed += chunk
    return removed

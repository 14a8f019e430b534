"""Score updates (contacts batch update) and follow-up tasks (look before create) for HubSpot."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

from leadsync.connectors.base import ScoreUpdate, TaskRequest, WriteResult
from leadsync.connectors.batching import BatchRejected, bisect_batch
from leadsync.connectors.errors import AmbiguousWriteError, ClientError
from leadsync.connectors.http import HttpClient
from leadsync.core.normalize import normalize_email

from leadsync_hubspot.client import SEARCH
from leadsync_hubspot.mapping import score_properties
from leadsync_hubspot.settings import HubSpotSettings

__all__ = ["TASK_CONTACT_ASSOCIATION", "create_tasks", "push_scores"]

log = logging.getLogger(__name__)

TASK_CONTACT_ASSOCIATION = {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 204}
_KEY_LOOKUP_CHUNK = 100  # values in one IN filter


def _payload(response: Any) -> dict[str, Any]:
    try:
        payload = response.json()
    except ValueError:
        return {}
    return payload if isinstance(payload, dict) else {}


def _error_targets(error: dict[str, Any]) -> set[str]:
    """The ids / objectWriteTraceIds a batch error names in its context."""
    context = error.get("context") or {}
    targets: set[str] = set()
    for name in ("ids", "id", "objectWriteTraceId", "objectWriteTraceIds"):
        value = context.get(name)
        if isinstance(value, list):
            targets.update(str(v) for v in value)
        elif value is not None:
            targets.add(str(value))
    return targets


def _error_text(error: dict[str, Any]) -> str:
    return f"{error.get('category') or 'ERROR'}: {error.get('message') or 'rejected by HubSpot'}"


def _retryable(error: dict[str, Any]) -> bool:
    status = str(error.get("status") or "")
    return error.get("category") == "RATE_LIMITS" or status.startswith("5")


# --- scores ------------------------------------------------------------------------------------

def push_scores(client: HttpClient, settings: HubSpotSettings, updates: Sequence[ScoreUpdate]) -> list[WriteResult]:
    """One batch update (at most 100); results are matched by id and trace id, never by position."""
    results: dict[str, WriteResult] = {}
    sendable: list[ScoreUpdate] = []
    for update in updates:
        if not update.record_id:
            results[update.key] = WriteResult(update.key, False, error="no HubSpot contact id for this lead")
        else:
            sendable.append(update)

    def send(batch: list[ScoreUpdate]) -> list[WriteResult]:
        body = {
            "inputs": [
                {"id": u.record_id, "objectWriteTraceId": u.key, "properties": score_properties(u, settings)}
                for u in batch
            ]
        }
        try:
            response = client.post("/crm/v3/objects/contacts/batch/update", json=body, idempotent=True)
        except ClientError as exc:
            if exc.status == 400:
                raise BatchRejected(_error_text(exc.json or {"message": str(exc)})) from None
            raise
        return _match(batch, _payload(response), id_of=lambda u: str(u.record_id))

    for item in bisect_batch(sendable, send) if sendable else []:
        results[item.item.key] = item.result if item.ok and item.result else WriteResult(
            item.item.key, False, error=item.error
        )
    return [results[u.key] for u in updates]


def _match(batch: Sequence[Any], payload: dict[str, Any], *, id_of: Callable[[Any], str]) -> list[WriteResult]:
    errors: dict[str, dict[str, Any]] = {}
    for error in payload.get("errors") or []:
        for target in _error_targets(error):
            errors[target] = error
    done_ids = {str(r.get("id")) for r in payload.get("results") or []}
    done_traces = {str(r.get("objectWriteTraceId")) for r in payload.get("results") or [] if r.get("objectWriteTraceId")}
    out: list[WriteResult] = []
    for item in batch:
        error = errors.get(item.key) or errors.get(id_of(item))
        if error is not None:
            out.append(WriteResult(item.key, False, error=_error_text(error), retryable=_retryable(error)))
        elif id_of(item) in done_ids or item.key in done_traces:
            out.append(WriteResult(item.key, True, external_id=id_of(item)))
        else:
            out.append(WriteResult(item.key, False, error="HubSpot did not report this record", retryable=True))
    return out


# --- tasks -------------------------------------------------------------------------------------

def _existing_tasks(client: HttpClient, settings: HubSpotSettings, keys: list[str]) -> dict[str, str]:
    """leadsync_key -> task id for the keys that already have a task (search: may lag writes)."""
    prop = settings.field("task_key")
    found: dict[str, str] = {}
    for start in range(0, len(keys), _KEY_LOOKUP_CHUNK):
        chunk = keys[start : start + _KEY_LOOKUP_CHUNK]
        after: str | None = None
        while True:
            body: dict[str, Any] = {
                "filterGroups": [{"filters": [{"propertyName": prop, "operator": "IN", "values": chunk}]}],
                "properties": [prop],
                "limit": 200,
            }
            if after:
                body["after"] = after
            payload = _payload(client.post("/crm/v3/objects/tasks/search", json=body, endpoint=SEARCH, idempotent=True))
            for record in payload.get("results") or []:
                key = (record.get("properties") or {}).get(prop)
                if key and key not in found:
                    found[str(key)] = str(record.get("id"))
            after = ((payload.get("paging") or {}).get("next") or {}).get("after")
            if not after:
                break
    return found


def _contacts_by_email(client: HttpClient, emails: list[str]) -> dict[str, str]:
    """Upsert contacts by e-mail (idempotent) and return e-mail -> contact id."""
    if not emails:
        return {}
    body = {"inputs": [{"id": e, "idProperty": "email", "properties": {"email": e}} for e in emails]}
    payload = _payload(client.post("/crm/v3/objects/contacts/batch/upsert", json=body, idempotent=True))
    found: dict[str, str] = {}
    for record in payload.get("results") or []:
        email = normalize_email((record.get("properties") or {}).get("email"))
        if email:
            found[email] = str(record.get("id"))
    return found


def _task_properties(task: TaskRequest, settings: HubSpotSettings) -> dict[str, str]:
    props = {
        "hs_timestamp": str(int(task.due_at.timestamp() * 1000)),
        "hs_task_subject": task.subject,
        "hs_task_body": task.body,
        "hs_task_status": "NOT_STARTED",
        "hs_task_priority": {"high": "HIGH", "medium": "MEDIUM", "normal": "MEDIUM", "low": "LOW"}.get(
            task.priority.lower(), "HIGH"
        ),
        "hs_task_type": settings.task_type,
        settings.field("task_key"): task.key,
    }
    if task.owner:
        props["hubspot_owner_id"] = task.owner
    return props


def create_tasks(
    client: HttpClient,
    settings: HubSpotSettings,
    tasks: Sequence[TaskRequest],
    *,
    sleep: Callable[[float], None] = time.sleep,
) -> list[WriteResult]:
    """Create each task once: look its key up first, create only the missing, match 207s by trace id."""
    results: dict[str, WriteResult] = {}
    emails = sorted({normalize_email(t.email) for t in tasks if not t.record_id and normalize_email(t.email)})
    contact_ids = _contacts_by_email(client, emails)
    contact_of: dict[str, str] = {}
    for task in tasks:
        contact = task.record_id or contact_ids.get(normalize_email(task.email) or "")
        if contact:
            contact_of[task.key] = contact
        else:
            results[task.key] = WriteResult(task.key, False, error="no HubSpot contact and no e-mail to create one")
    pending = [t for t in tasks if t.key in contact_of]
    existing = _existing_tasks(client, settings, [t.key for t in pending])
    for task in pending:
        if task.key in existing:
            results[task.key] = WriteResult(task.key, True, external_id=existing[task.key])
    missing = [t for t in pending if t.key not in existing]
    if missing:
        try:
            for result in _create(client, settings, missing, contact_of):
                results[result.key] = result
        except AmbiguousWriteError as exc:
            # The create may have landed. Let the search index catch up, then look again.
            log.warning("HubSpot task create unanswered; looking again in %.0f s", settings.index_settle_s)
            sleep(settings.index_settle_s)
            again = _existing_tasks(client, settings, [t.key for t in missing])
            for task in missing:
                results[task.key] = (
                    WriteResult(task.key, True, external_id=again[task.key])
                    if task.key in again
                    else WriteResult(task.key, False, error=str(exc), retryable=True)
                )
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
        # A 400 without per-input detail: every input of the batch carries the vendor's reason.
        reason = _error_text(exc.json or {"message": str(exc)})
        return [WriteResult(t.key, False, error=reason) for t in batch]
    payload = _payload(response)
    prop = settings.field("task_key")
    created = {}
    for record in payload.get("results") or []:
        key = record.get("objectWriteTraceId") or (record.get("properties") or {}).get(prop)
        if key:
            created[str(key)] = str(record.get("id"))
    errors: dict[str, dict[str, Any]] = {}
    for error in payload.get("errors") or []:
        for target in _error_targets(error):
            errors[target] = error
    out = []
    for task in batch:
        if task.key in created:
            out.append(WriteResult(task.key, True, external_id=created[task.key]))
        elif task.key in errors:
            out.append(WriteResult(task.key, False, error=_error_text(errors[task.key]), retryable=_retryable(errors[task.key])))
        else:
            # Unreported: the next attempt looks the key up before creating, so a resend is safe.
            out.append(WriteResult(task.key, False, error="HubSpot did not report this task", retryable=True))
    return out

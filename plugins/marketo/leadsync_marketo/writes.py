"""Marketo writes: scores through Sync Leads, handoffs through a Request Campaign guarded by a lead field.

Request Campaign is not idempotent, so each handoff is fenced by the lead field `leadsyncHandoffKey`:

1. read the field for every lead of the batch (one leads.json call);
2. a value ``<key>|sent`` or ``<key>|done`` means this handoff already ran: acknowledge, send nothing;
3. otherwise write ``<key>|pending`` (Sync Leads, updateOnly by id), trigger the campaign for that one
   lead with its my-tokens, then write ``<key>|sent``;
4. a value ``<key>|pending`` means an earlier attempt died or lost the trigger's answer: leadsync
   cannot know whether the campaign ran, so it does NOT trigger again; the task is dead-lettered with
   a message to check the campaign's results. If the campaign's flow sets the field to
   ``{{my.leadsync_key}}|done`` (recommended in the README), a campaign that did run is seen as done.

Guarantee: never two campaign runs for one key; a handoff whose trigger answer was lost is reported,
not silently repeated.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from leadsync.connectors.base import ScoreUpdate, TaskRequest, WriteResult
from leadsync.connectors.errors import AmbiguousWriteError, ConnectorError
from leadsync.core.normalize import normalize_email

from leadsync_marketo.api import MAYBE_APPLIED_CODES, MarketoApi, MarketoError, marketo_time
from leadsync_marketo.settings import MarketoSettings

__all__ = ["create_handoffs", "push_scores"]


def _reason(result: dict[str, Any]) -> str:
    reasons = result.get("reasons") or ([result["reason"]] if isinstance(result.get("reason"), dict) else [])
    text = "; ".join(f"{r.get('code')} {r.get('message')}" for r in reasons if isinstance(r, dict))
    return text or f"status {result.get('status')}"


def push_scores(api: MarketoApi, settings: MarketoSettings, updates: Sequence[ScoreUpdate]) -> list[WriteResult]:
    """Write score fields with Sync Leads (updateOnly by id; by e-mail when there is no id)."""
    f = settings.field
    results: dict[str, WriteResult] = {}
    by_id = [u for u in updates if u.record_id and str(u.record_id).isdigit()]
    by_email = [u for u in updates if u not in by_id and normalize_email(u.email)]
    for update in updates:
        if update not in by_id and update not in by_email:
            results[update.key] = WriteResult(update.key, ok=False, error="no Marketo lead id or e-mail to update")

    def fields(update: ScoreUpdate) -> dict[str, Any]:
        values = {
            f("score"): update.score,
            f("behavior_score"): update.behavior_score,
            f("attribute_score"): update.attribute_score,
            f("segment"): update.segment.value,
            f("sheet_version"): update.sheet_version,
            f("scored_at"): marketo_time(update.scored_at),
        }
        return {name: value for name, value in values.items() if name}

    for group, lookup in ((by_id, "id"), (by_email, "email")):
        for start in range(0, len(group), 300):
            chunk = group[start : start + 300]
            records = [
                {"id": int(u.record_id)} | fields(u) if lookup == "id" else {"email": normalize_email(u.email)} | fields(u)
                for u in chunk
            ]
            try:
                answers = api.sync_leads(records, action="updateOnly", lookup_field=lookup)
            except MarketoError as exc:
                for u in chunk:
                    results[u.key] = WriteResult(u.key, ok=False, error=str(exc))
                continue
            for update, answer in zip(chunk, answers):
                if answer.get("status") in ("updated", "created"):
                    results[update.key] = WriteResult(update.key, ok=True, external_id=str(answer.get("id", "")) or None)
                else:
                    results[update.key] = WriteResult(update.key, ok=False, error=_reason(answer))
    return [results[u.key] for u in updates]


def _ensure_leads(api: MarketoApi, tasks: Sequence[TaskRequest]) -> tuple[dict[str, int], dict[str, str]]:
    """Lead id per task key, creating leads known only by e-mail (createOrUpdate by e-mail)."""
    ids: dict[str, int] = {}
    errors: dict[str, str] = {}
    missing: list[TaskRequest] = []
    for task in tasks:
        if task.record_id and str(task.record_id).isdigit():
            ids[task.key] = int(task.record_id)
        elif normalize_email(task.email):
            missing.append(task)
        else:
            errors[task.key] = "no Marketo lead id or e-mail for the handoff"
    for start in range(0, len(missing), 300):
        chunk = missing[start : start + 300]
        answers = api.sync_leads([{"email": normalize_email(t.email)} for t in chunk],
                                 action="createOrUpdate", lookup_field="email")
        for task, answer in zip(chunk, answers):
            if answer.get("id") is not None and answer.get("status") in ("created", "updated"):
                ids[task.key] = int(answer["id"])
            else:
                errors[task.key] = _reason(answer)
    return ids, errors


def _markers(api: MarketoApi, field: str, lead_ids: list[int]) -> dict[int, str]:
    found: dict[int, str] = {}
    for raw in api.leads_by_id([str(i) for i in dict.fromkeys(lead_ids)], ["id", field]):
        if raw.get("id") is not None:
            found[int(raw["id"])] = str(raw.get(field) or "")
    return found


def _write_markers(api: MarketoApi, field: str, marks: dict[int, str | None]) -> dict[int, str]:
    """Set the fence field; lead id -> error for leads Marketo refused."""
    items = list(marks.items())
    failed: dict[int, str] = {}
    for start in range(0, len(items), 300):
        chunk = items[start : start + 300]
        answers = api.sync_leads([{"id": lead_id, field: value} for lead_id, value in chunk],
                                 action="updateOnly", lookup_field="id")
        for (lead_id, _), answer in zip(chunk, answers):
            if answer.get("status") not in ("updated", "created"):
                failed[lead_id] = _reason(answer)
    return failed


def _tokens(settings: MarketoSettings, task: TaskRequest) -> list[dict[str, str]]:
    values = {
        "key": task.key,
        "subject": task.subject,
        "body": task.body,
        "due_at": task.due_at.isoformat(),
        "owner": task.owner or "",
        "priority": task.priority,
    }
    return [{"name": settings.token_name(name), "value": value} for name, value in values.items()]


def create_handoffs(api: MarketoApi, settings: MarketoSettings, tasks: Sequence[TaskRequest]) -> list[WriteResult]:
    """Hand each lead to sales once through the configured Request Campaign (see module docstring)."""
    if settings.handoff_campaign_id is None:
        raise ConnectorError("marketo: handoff_campaign_id is not set; tasks need a Request Campaign")
    field = settings.field("handoff_key")
    campaign = settings.handoff_campaign_id
    results: dict[str, WriteResult] = {}
    ids, errors = _ensure_leads(api, tasks)
    for key, error in errors.items():
        results[key] = WriteResult(key, ok=False, error=error)
    current = _markers(api, field, list(ids.values()))
    to_send: list[TaskRequest] = []
    for task in tasks:
        if task.key not in ids:
            continue
        lead_id = ids[task.key]
        external = f"{campaign}:{lead_id}"
        marker = current.get(lead_id)
        if marker is None:
            results[task.key] = WriteResult(task.key, ok=False, error=f"Marketo lead {lead_id} not found")
        elif marker in (f"{task.key}|sent", f"{task.key}|done"):
            results[task.key] = WriteResult(task.key, ok=True, external_id=external)
        elif marker == f"{task.key}|pending":
            results[task.key] = WriteResult(
                task.key, ok=False,
                error=f"handoff {task.key}: an earlier Request Campaign {campaign} for lead {lead_id} may or may "
                      "not have run; not resent to avoid a duplicate (check the campaign's results)",
            )
        else:
            to_send.append(task)
    pending: dict[int, str | None] = {ids[t.key]: f"{t.key}|pending" for t in to_send}
    refused = _write_markers(api, field, pending) if pending else {}
    sent: dict[int, str] = {}
    revert: dict[int, str | None] = {}
    for task in to_send:
        lead_id = ids[task.key]
        if lead_id in refused:
            results[task.key] = WriteResult(task.key, ok=False, error=refused[lead_id])
            continue
        try:
            # One lead per call: my-tokens apply to the whole call and every task's text differs.
            api.trigger_campaign(campaign, [lead_id], _tokens(settings, task))
        except AmbiguousWriteError as exc:
            results[task.key] = WriteResult(task.key, ok=False, retryable=True, error=str(exc))
            continue
        except MarketoError as exc:
            # 604/611: the campaign may have been requested; the "pending" mark stops a blind resend.
            ambiguous = bool(set(exc.codes) & MAYBE_APPLIED_CODES)
            results[task.key] = WriteResult(task.key, ok=False, retryable=ambiguous, error=str(exc))
            if not ambiguous:  # a definite refusal: the campaign did not run, lift the fence
                revert[lead_id] = current.get(lead_id) or None
            continue
        sent[lead_id] = f"{task.key}|sent"
        results[task.key] = WriteResult(task.key, ok=True, external_id=f"{campaign}:{lead_id}")
    if sent or revert:
        # The campaign ran; a failed "sent" mark leaves "pending", which a resend reports, never repeats.
        _write_markers(api, field, {**sent, **revert})
    return [results[t.key] for t in tasks]

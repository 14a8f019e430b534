"""Marketo writes: scores through Sync Leads, handoffs through a Request Campaign fenced one lead at a time.

Request Campaign is not idempotent, so each handoff is fenced by the lead field `leadsyncHandoffKey`,
one lead at a time:

1. read the field for every lead of the batch (one leads.json call per 300 leads);
2. ``<key>|sent`` or ``<key>|done`` means this handoff already ran: acknowledge, send nothing;
3. otherwise, for that one lead: write ``<key>|pending`` (Sync Leads, updateOnly by id), trigger the
   campaign with its my-tokens, then write ``<key>|sent``; only then go to the next lead;
4. ``<key>|pending`` found later means an attempt died between its mark and its confirmation:
   leadsync cannot know whether the campaign ran, so it does NOT trigger again and dead-letters the
   handoff with a message to check the campaign's results, unless the task carries
   ``retry_ambiguous`` (a person checked and re-queued it with `leadsync sync requeue`). A campaign
   whose flow sets the field to ``{{my.leadsync_key}}|done`` (see the README) resolves it itself.

A kill therefore leaves at most one lead ambiguous: the one between its mark and its confirmation.
An answer that says the trigger was not executed (6xx, 7xx, a connection never made) lifts the
fence again, so that handoff is simply resent on the next run.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from leadsync.connectors import (
    AmbiguousWriteError,
    ConnectorError,
    RateLimitExhausted,
    ScoreUpdate,
    SetupMissing,
    TaskRequest,
    VendorUnavailable,
    WriteResult,
    normalize_email,
    task_key_date,
)

from leadsync_marketo.client import MAYBE_APPLIED_CODES, MarketoClient, MarketoError, marketo_time
from leadsync_marketo.codes import NOT_SET_UP_RECORD_CODES, record_is_transient
from leadsync_marketo.settings import MarketoSettings

__all__ = ["create_handoffs", "push_scores", "record_result"]

log = logging.getLogger(__name__)


def _reasons(answer: dict[str, Any]) -> list[dict[str, Any]]:
    reasons = answer.get("reasons") or ([answer["reason"]] if isinstance(answer.get("reason"), dict) else [])
    return [r for r in reasons if isinstance(r, dict)]


def _reason(answer: dict[str, Any]) -> str:
    text = "; ".join(f"{r.get('code')} {r.get('message')}" for r in _reasons(answer))
    return text or f"status {answer.get('status')}"


def _not_set_up(answer: dict[str, Any]) -> None:
    """A 'field not found' reason means the connection lacks leadsync's fields: stop, do not dead-letter."""
    codes = {str(r.get("code")) for r in _reasons(answer)}
    if codes & NOT_SET_UP_RECORD_CODES:
        raise SetupMissing(f"Marketo lead field ({_reason(answer)})")


def record_result(key: str, answer: dict[str, Any]) -> WriteResult:
    """One Sync Leads result as a WriteResult: transient reasons stay in the outbox."""
    if answer.get("status") in ("updated", "created"):
        return WriteResult(key, ok=True, external_id=str(answer.get("id", "")) or None)
    _not_set_up(answer)
    codes = [str(r.get("code")) for r in _reasons(answer)]
    return WriteResult(key, ok=False, retryable=record_is_transient(codes), error=_reason(answer))


def _call_failed(exc: MarketoError, keys: Sequence[str]) -> dict[str, WriteResult]:
    """A response-level error for a whole Sync Leads call: 6xx is about the connection, not the records."""
    if any(code.startswith("6") for code in exc.codes):
        raise exc
    return {key: WriteResult(key, ok=False, error=str(exc)) for key in keys}


def push_scores(client: MarketoClient, settings: MarketoSettings, updates: Sequence[ScoreUpdate]) -> list[WriteResult]:
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
                answers = client.sync_leads(records, action="updateOnly", lookup_field=lookup)
            except MarketoError as exc:
                results.update(_call_failed(exc, [u.key for u in chunk]))
                continue
            except VendorUnavailable as exc:  # not executed (the shared window stayed full): next run
                results.update({u.key: WriteResult(u.key, ok=False, retryable=True, error=str(exc))
                                for u in updates if u.key not in results})
                return [results[u.key] for u in updates]
            for update, answer in zip(chunk, answers):
                results[update.key] = record_result(update.key, answer)
    return [results[u.key] for u in updates]


def _ensure_leads(client: MarketoClient, tasks: Sequence[TaskRequest]) -> tuple[dict[str, int], dict[str, WriteResult]]:
    """Lead id per task key, creating leads known only by e-mail (createOrUpdate by e-mail, an upsert)."""
    ids: dict[str, int] = {}
    failed: dict[str, WriteResult] = {}
    missing: list[TaskRequest] = []
    for task in tasks:
        if task.record_id and str(task.record_id).isdigit():
            ids[task.key] = int(task.record_id)
        elif normalize_email(task.email):
            missing.append(task)
        else:
            failed[task.key] = WriteResult(task.key, ok=False, error="no Marketo lead id or e-mail for the handoff")
    for start in range(0, len(missing), 300):
        chunk = missing[start : start + 300]
        try:
            answers = client.sync_leads([{"email": normalize_email(t.email)} for t in chunk],
                                     action="createOrUpdate", lookup_field="email")
        except MarketoError as exc:
            failed.update(_call_failed(exc, [t.key for t in chunk]))
            continue
        for task, answer in zip(chunk, answers):
            result = record_result(task.key, answer)
            if result.ok and answer.get("id") is not None:
                ids[task.key] = int(answer["id"])
            else:
                failed[task.key] = result if not result.ok else WriteResult(task.key, ok=False, error="no lead id")
    return ids, failed


def _markers(client: MarketoClient, field: str, lead_ids: list[int]) -> dict[int, str]:
    found: dict[int, str] = {}
    for raw in client.leads_by_id([str(i) for i in dict.fromkeys(lead_ids)], ["id", field]):
        if raw.get("id") is not None:
            found[int(raw["id"])] = str(raw.get(field) or "")
    return found


def _mark(client: MarketoClient, field: str, key: str, lead_id: int, value: str | None) -> WriteResult:
    """Set the fence field of one lead."""
    try:
        answers = client.sync_leads([{"id": lead_id, field: value}], action="updateOnly", lookup_field="id")
    except MarketoError as exc:
        return _call_failed(exc, [key])[key]
    return record_result(key, answers[0])


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


class _Handoff:
    """One lead through mark, trigger, confirm."""

    def __init__(self, client: MarketoClient, settings: MarketoSettings) -> None:
        self.client, self.settings = client, settings
        self.field = settings.field("handoff_key")
        self.campaign = int(settings.handoff_campaign_id or 0)

    def _lift(self, task: TaskRequest, lead_id: int, previous: str) -> None:
        """The trigger was not executed: put the field back so the next attempt sends it.

        If even that write fails, the lead keeps "pending" and is reported as ambiguous later."""
        try:
            lifted = _mark(self.client, self.field, task.key, lead_id, previous or None)
        except ConnectorError as exc:
            lifted = WriteResult(task.key, ok=False, error=str(exc))
        if not lifted.ok:
            log.warning("marketo: could not lift the fence of handoff %s (lead %s): %s", task.key, lead_id,
                        lifted.error)

    def send(self, task: TaskRequest, lead_id: int, previous: str) -> WriteResult:
        external = f"{self.campaign}:{lead_id}"
        fenced = _mark(self.client, self.field, task.key, lead_id, f"{task.key}|pending")
        if not fenced.ok:
            return fenced
        try:
            # One lead per call: my-tokens apply to the whole call and every task's text differs.
            self.client.trigger_campaign(self.campaign, [lead_id], _tokens(self.settings, task))
        except AmbiguousWriteError as exc:
            return WriteResult(task.key, ok=False, retryable=True, error=str(exc))
        except MarketoError as exc:
            if set(exc.codes) & MAYBE_APPLIED_CODES:
                return WriteResult(task.key, ok=False, retryable=True, error=str(exc))
            self._lift(task, lead_id, previous)  # 6xx/7xx/1xxx: Marketo did not execute it
            if set(exc.codes) <= {"1004"}:
                return WriteResult(task.key, ok=False, error=f"Request Campaign {self.campaign}: {exc}")
            raise ConnectorError(f"marketo: Request Campaign {self.campaign} refused: {exc}; "
                                 "run `leadsync connections check` for this connection") from exc
        except (VendorUnavailable, RateLimitExhausted):
            self._lift(task, lead_id, previous)  # every attempt was refused or never reached Marketo
            raise
        try:
            confirmed = _mark(self.client, self.field, task.key, lead_id, f"{task.key}|sent")
        except ConnectorError as exc:
            confirmed = WriteResult(task.key, ok=False, error=str(exc))
        if not confirmed.ok:  # the campaign ran: the handoff is done; a resend would report "pending"
            log.warning("marketo: handoff %s ran but its confirmation was not written: %s", task.key, confirmed.error)
        return WriteResult(task.key, ok=True, external_id=external)


def _recent_other_handoff(marker: str, task: TaskRequest, within_days: int) -> str | None:
    """The key of another handoff this lead's fence shows as run (sent or done) within
    `within_days` before this one; None otherwise (no date in a key: not adopted)."""
    other, _, state = marker.partition("|")
    if other == task.key or state not in ("sent", "done"):
        return None
    ran, planned = task_key_date(other), task_key_date(task.key)
    if ran is None or planned is None or not 0 <= (planned - ran).days <= within_days:
        return None
    return other


def create_handoffs(client: MarketoClient, settings: MarketoSettings, tasks: Sequence[TaskRequest]) -> list[WriteResult]:
    """Hand each lead to sales once through the configured Request Campaign (see module docstring)."""
    if settings.handoff_campaign_id is None:
        raise ConnectorError("marketo: handoff_campaign_id is not set; tasks need a Request Campaign")
    handoff = _Handoff(client, settings)
    campaign = handoff.campaign
    ids, results = _ensure_leads(client, tasks)
    current = _markers(client, handoff.field, list(ids.values()))
    for index, task in enumerate(tasks):
        if task.key in results:
            continue
        lead_id = ids[task.key]
        marker = current.get(lead_id)
        if marker is None:
            results[task.key] = WriteResult(task.key, ok=False, error=f"Marketo lead {lead_id} not found")
        elif marker in (f"{task.key}|sent", f"{task.key}|done"):
            results[task.key] = WriteResult(task.key, ok=True, external_id=f"{campaign}:{lead_id}")
        elif (adopted := _recent_other_handoff(marker, task, settings.adopt_within_days)) is not None:
            log.warning("marketo: lead %s already ran handoff %s; %s adopts it instead of running the campaign again",
                        lead_id, adopted, task.key)
            results[task.key] = WriteResult(task.key, ok=True, external_id=f"{campaign}:{lead_id}", adopted_key=adopted)
        elif marker == f"{task.key}|pending" and not task.retry_ambiguous:
            results[task.key] = WriteResult(
                task.key, ok=False,
                error=f"handoff {task.key}: an earlier Request Campaign {campaign} for lead {lead_id} was sent but "
                      "not confirmed (the run stopped or lost the answer), so it may or may not have run; not resent "
                      "to avoid a duplicate. Check the lead's activity log in Marketo; if the campaign did not run, "
                      "re-queue it with `leadsync sync requeue`",
            )
        else:
            previous = "" if marker == f"{task.key}|pending" else marker
            try:
                results[task.key] = handoff.send(task, lead_id, previous)
            except (VendorUnavailable, RateLimitExhausted) as exc:
                for rest in tasks[index:]:  # nothing more reaches Marketo in this run: resend next run
                    results.setdefault(rest.key, WriteResult(rest.key, ok=False, retryable=True, error=str(exc)))
                break
            current[lead_id] = f"{task.key}|sent"
    return [results[t.key] for t in tasks]

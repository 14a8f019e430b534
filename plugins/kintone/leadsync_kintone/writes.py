"""kintone writes: scores by record id and tasks as To-Do app records, upserted on the task key.

PUT records is all-or-nothing: a CB_VA01 names the bad records (``records[3].x.value``); those are
failed and the rest resent (leadsync.connectors.batching.bisect_batch). Tasks use ``upsert: true``
with ``updateKey`` on a prohibit-duplicates key field; a key whose record the look-up before the
batch already found is not written at all (leadsync_kintone.adoption).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from typing import Any

from leadsync.connectors import ConnectorError, ScoreUpdate, TaskRequest, WriteResult, bisect_batch, normalize_email

from leadsync_kintone.adoption import Wanted, look_up
from leadsync_kintone.client import KintoneClient
from leadsync_kintone.mapping import kintone_time
from leadsync_kintone.settings import KintoneSettings

__all__ = ["create_tasks", "push_scores", "update_key_value"]


def update_key_value(key: str) -> str:
    """An updateKey value (≤64 characters): the key itself, or a stable digest of a longer one."""
    return key if len(key) <= 64 else "h:" + hashlib.sha256(key.encode()).hexdigest()[:62]


# kintone codes a later attempt can fix: 409 GAIA_CO02 is another writer's concurrent update of the
# record (kintone's own advice: reload and save again). See the plugin README for the sources.
TRANSIENT_CODES = ("GAIA_CO02",)


def is_transient(reason: str, key_field: str | None) -> bool:
    """True for a concurrent update, or (in an upsert) a duplicate on the update key: another
    writer inserted the same key first, and a resend updates that record."""
    if reason.startswith(TRANSIENT_CODES):
        return True
    if key_field and reason.startswith("CB_VA01"):
        paths = re.findall(r"records\[\d+\]\.([^:;]+?)\.value:", reason)
        return bool(paths) and set(paths) == {key_field}
    return False


def _put(client: KintoneClient, app: int, rows: list[tuple[str, dict[str, Any]]], *, upsert: bool,
         key_field: str | None = None) -> dict[str, WriteResult]:
    results: dict[str, WriteResult] = {}
    for start in range(0, len(rows), 100):
        chunk = rows[start : start + 100]
        outcomes = bisect_batch(chunk, lambda batch: client.put_records(app, [r for _, r in batch], upsert=upsert))
        for outcome in outcomes:
            key = outcome.item[0]
            if outcome.ok:
                answer = outcome.result or {}
                results[key] = WriteResult(key, ok=True, external_id=str(answer.get("id")) if answer.get("id") else None)
            else:
                error = outcome.error or "rejected by kintone"
                results[key] = WriteResult(key, ok=False, error=error, retryable=is_transient(error, key_field))
    return results


def push_scores(client: KintoneClient, settings: KintoneSettings, updates: Sequence[ScoreUpdate]) -> list[WriteResult]:
    f = settings.lead_field
    rows: list[tuple[str, dict[str, Any]]] = []
    results: dict[str, WriteResult] = {}
    for u in updates:
        if not u.record_id:
            results[u.key] = WriteResult(u.key, ok=False, error="no kintone record id for this lead")
            continue
        values = {f("score"): u.score, f("behavior_score"): u.behavior_score, f("attribute_score"): u.attribute_score,
                  f("segment"): u.segment.value, f("sheet_version"): u.sheet_version,
                  f("scored_at"): kintone_time(u.scored_at)}
        record = {code: {"value": str(value)} for code, value in values.items() if code}
        rows.append((u.key, {"id": str(u.record_id), "record": record}))
    results.update(_put(client, settings.leads_app, rows, upsert=False))
    return [results[u.key] for u in updates]


def _ensure_leads(client: KintoneClient, settings: KintoneSettings, tasks: Sequence[TaskRequest]) -> dict[str, WriteResult]:
    """Upsert leads known only by e-mail (updateKey on the e-mail field); task key -> failure."""
    key_field = settings.lead_update_key or settings.lead_field("email")
    rows = []
    failures: dict[str, WriteResult] = {}
    for t in tasks:
        if t.record_id:
            continue
        email = normalize_email(t.email)
        if not email:
            failures[t.key] = WriteResult(t.key, ok=False, error="no kintone record id or e-mail for the task's lead")
            continue
        rows.append((t.key, {"updateKey": {"field": key_field, "value": email},
                             "record": {settings.lead_field("email"): {"value": email}}
                             if key_field != settings.lead_field("email") else {}}))
    for key, result in _put(client, settings.leads_app, rows, upsert=True, key_field=key_field).items():
        if not result.ok:
            failures[key] = result
    return failures


def create_tasks(client: KintoneClient, settings: KintoneSettings, tasks: Sequence[TaskRequest]) -> list[WriteResult]:
    if settings.tasks_app is None:
        raise ConnectorError("kintone: tasks_app is not set; tasks are records of a To-Do app")
    f = settings.task_field
    results = _ensure_leads(client, settings, tasks)
    wanted = [t for t in tasks if t.key not in results]
    # Look before writing: a record that already carries the key (a lost answer, a kill, a lost
    # state store resending) is never upserted again, whatever its status or owner, so a resend
    # cannot reopen a To-Do sales completed nor hand back one sales reassigned. An open leadsync
    # record of the same lead under another key is that handoff's task (adoption).
    found = look_up(client, settings, [Wanted(update_key_value(t.key), str(t.record_id or ""),
                                              normalize_email(t.email) or "") for t in wanted]) if wanted else None
    rows: list[tuple[str, dict[str, Any]]] = []
    for t in wanted:
        assert found is not None
        mine = found.keyed.get(update_key_value(t.key))
        if mine:  # already created: nothing to send
            results[t.key] = WriteResult(t.key, ok=True, external_id=mine["id"])
            continue
        others = [c for c in found.open_of(t.record_id, normalize_email(t.email)) if not str(c["key"]).startswith("h:")]
        if others:  # created under another key by a run whose local state was lost: adopt the oldest
            results[t.key] = WriteResult(t.key, ok=True, external_id=others[0]["id"], adopted_key=str(others[0]["key"]))
            continue
        values = {f("subject"): t.subject, f("body"): t.body, f("due_at"): kintone_time(t.due_at),
                  f("priority"): t.priority, f("email"): normalize_email(t.email) or "",
                  f("lead_record_id"): t.record_id or ""}
        record: dict[str, Any] = {code: {"value": value} for code, value in values.items() if code}
        if t.owner and f("owner"):
            record[f("owner")] = {"value": [{"code": t.owner}]}
        rows.append((t.key, {"updateKey": {"field": f("key"), "value": update_key_value(t.key)}, "record": record}))
    results.update(_put(client, settings.tasks_app, rows, upsert=True, key_field=f("key")))
    return [results[t.key] for t in tasks]

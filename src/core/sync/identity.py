"""Storing pulled records: one lead per person across connections, activities deduplicated.

Identity is the normalized e-mail. Each connection's view of a lead is kept in `lead_refs`; the
merged lead in `leads` is rebuilt from those views (see docs/architecture.md for which system wins
which field) and marked dirty only when it really changed.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from leadsync.connectors.base import Rejected, TaskUpdate
from leadsync.connectors.redact import redact, redact_data
from leadsync.core.models import Activity, Lead, Opportunity
from leadsync.core.normalize import normalize_email
from leadsync.core.state.opportunities import store_opportunity

__all__ = ["IngestCounts", "dead_letter", "dead_letter_once", "ingest", "merge_views"]

# Fields where the CRM's word is final when it has one.
CRM_FIELDS = ("owner", "status", "status_reason")
_SKIP = {"key", "refs", "custom"}


@dataclass
class IngestCounts:
    leads: int = 0
    activities: int = 0
    changed_leads: int = 0
    new_activities: int = 0
    task_updates: int = 0
    rejected: int = 0
    task_events: list[TaskUpdate] = field(default_factory=list)


def dead_letter(
    db: sqlite3.Connection, *, run_id: int | None, connection: str, kind: str, key: str | None, reason: str, payload: Any
) -> None:
    """Store one dead letter; the reason and payload (vendor text) are redacted first."""
    db.execute(
        "INSERT INTO dead_letters(run_id, connection, kind, record_key, reason, payload, created_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        (run_id, connection, kind, key, redact(reason), _payload_json(payload), time.time()),
    )


def _payload_json(payload: Any) -> str:
    return json.dumps(redact_data(payload), ensure_ascii=False, default=str)


def dead_letter_once(
    db: sqlite3.Connection, *, run_id: int | None, connection: str, kind: str, key: str | None, reason: str, payload: Any
) -> bool:
    """Dead-letter a pulled record unless the same record (key and content) already is.

    True when the record still counts as a dead letter of this run: a new one, or one already
    stored and not yet acknowledged (`sync requeue`). An acknowledged one is not stored again, so
    a bad row that is re-read (its file changed elsewhere) stops failing runs once acknowledged.
    """
    row = db.execute(
        "SELECT MIN(requeued_at IS NOT NULL) FROM dead_letters WHERE connection = ? AND kind = ? AND record_key IS ? "
        "AND payload = ?",
        (connection, kind, key, _payload_json(payload)),
    ).fetchone()
    if row[0] is None:
        dead_letter(db, run_id=run_id, connection=connection, kind=kind, key=key, reason=reason, payload=payload)
        return True
    return row[0] == 0


def merge_views(views: Sequence[tuple[str, Lead, bool]]) -> Lead:
    """Merge one person's views, given as (connection, lead, is_crm) tuples.

    A CRM view wins owner and status; for every other field the most recently updated
    non-empty value wins.
    """
    ordered = sorted(views, key=lambda v: (v[1].updated_at is not None, v[1].updated_at or 0, v[0]))
    merged: dict[str, Any] = {}
    refs: dict[str, str] = {}
    custom: dict[str, Any] = {}
    for connection, lead, _ in ordered:
        refs.update(lead.refs or {})
        custom.update(lead.custom)
        for name, value in lead:
            if name not in _SKIP and value not in (None, ""):
                merged[name] = value
    crm = [lead for _, lead, is_crm in ordered if is_crm]
    if crm:
        for name in CRM_FIELDS:
            for lead in reversed(crm):
                if getattr(lead, name) not in (None, ""):
                    merged[name] = getattr(lead, name)
                    break
    key = ordered[-1][1].key
    return Lead(key=key, refs=refs, custom=custom, **merged)


def _known_lead(db: sqlite3.Connection, connection: str, record_id: str) -> str | None:
    """The lead a connection's record already belongs to, if any."""
    row = db.execute(
        "SELECT lead_key FROM lead_refs WHERE connection = ? AND record_id = ?", (connection, record_id)
    ).fetchone()
    return row[0] if row else None


def _lead_key_for(db: sqlite3.Connection, connection: str, lead: Lead, record_id: str) -> str:
    return (normalize_email(lead.email) or _known_lead(db, connection, record_id)
            or lead.key or f"{connection}:{record_id}")


def _same_content(stored: str, fresh: str) -> bool:
    """Equal but perhaps for `updated_at`: a CRM stamps a record we wrote a score to as modified,
    and reading that back must not count as a change of the lead."""
    if stored == fresh:
        return True
    old, new = json.loads(stored), json.loads(fresh)
    old.pop("updated_at", None)
    new.pop("updated_at", None)
    return old == new


def _store_lead(db: sqlite3.Connection, connection: str, lead: Lead, crm_connections: set[str]) -> bool:
    record_id = lead.refs.get(connection) or lead.key
    key = _lead_key_for(db, connection, lead, record_id)
    lead = lead.model_copy(update={"key": key, "email": normalize_email(lead.email), "refs": {connection: record_id}})
    view = lead.model_dump_json()
    previous = db.execute(
        "SELECT lead_key, data FROM lead_refs WHERE connection = ? AND record_id = ?", (connection, record_id)
    ).fetchone()
    if previous is not None and previous[0] == key and _same_content(previous[1], view):
        return False  # a re-read (look-back overlap, full refresh) or the echo of our own write
    db.execute(
        "INSERT INTO lead_refs(connection, record_id, lead_key, data) VALUES (?, ?, ?, ?) "
        "ON CONFLICT(connection, record_id) DO UPDATE SET lead_key = excluded.lead_key, data = excluded.data",
        (connection, record_id, key, view),
    )
    changed = _rebuild(db, key, crm_connections, fresh=(connection, record_id, lead, view))
    if previous is not None and previous[0] != key:  # the record moved to another identity
        changed |= _rebuild(db, previous[0], crm_connections)
    return changed


def _rebuild(
    db: sqlite3.Connection, lead_key: str, crm_connections: set[str],
    fresh: tuple[str, str, Lead, str] | None = None,
) -> bool:
    """Recompute the merged lead from its views; `fresh` is the view just stored, already parsed."""
    if fresh is not None:
        connection, record_id, lead, view = fresh
        others = db.execute(
            "SELECT connection, data FROM lead_refs WHERE lead_key = ? AND NOT (connection = ? AND record_id = ?)",
            (lead_key, connection, record_id),
        ).fetchall()
        if not others:  # one system knows this person: the view is the merged lead
            merged, data = lead, view
        else:
            merged, data = _merge(lead_key, others, crm_connections, (connection, lead))
    else:
        rows = db.execute("SELECT connection, data FROM lead_refs WHERE lead_key = ?", (lead_key,)).fetchall()
        if not rows:
            db.execute("DELETE FROM leads WHERE key = ?", (lead_key,))
            return True
        merged, data = _merge(lead_key, rows, crm_connections)
    existing = db.execute("SELECT data FROM leads WHERE key = ?", (lead_key,)).fetchone()
    if existing is not None and existing[0] == data:
        return False
    db.execute(
        "INSERT INTO leads(key, email, data, updated_at, dirty) VALUES (?, ?, ?, ?, 1) "
        "ON CONFLICT(key) DO UPDATE SET email = excluded.email, data = excluded.data, "
        "updated_at = excluded.updated_at, dirty = 1",
        (lead_key, merged.email, data, time.time()),
    )
    return True


def _merge(
    lead_key: str, stored: Sequence[tuple[str, str]], crm_connections: set[str], fresh: tuple[str, Lead] | None = None
) -> tuple[Lead, str]:
    """The merged lead of stored (connection, JSON) views and perhaps one fresh view, and its JSON."""
    views = [(conn, Lead.model_validate_json(data), conn in crm_connections) for conn, data in stored]
    if fresh is not None:
        views.append((fresh[0], fresh[1], fresh[0] in crm_connections))
    merged = merge_views(views).model_copy(update={"key": lead_key})
    return merged, merged.model_dump_json()


def _store_activity(db: sqlite3.Connection, connection: str, activity: Activity) -> str | bool:
    """True when new or changed, False when already stored, or a reason when it cannot be placed."""
    lead_key = normalize_email(activity.email) or ""
    if not lead_key and activity.lead_record_id:
        lead_key = _known_lead(db, connection, activity.lead_record_id) or ""
    lead_key = lead_key or activity.lead_key
    if not lead_key:
        return f"activity {activity.source_id}: no e-mail and no known lead record id {activity.lead_record_id!r}"
    activity = activity.model_copy(update={"connection": connection, "lead_key": lead_key})
    data = activity.model_dump_json()
    existing = db.execute(
        "SELECT data FROM activities WHERE connection = ? AND source_id = ?", (connection, activity.source_id)
    ).fetchone()
    if existing is not None and existing[0] == data:
        return False
    db.execute(
        "INSERT INTO activities(connection, source_id, lead_key, type, occurred_at, url, data) VALUES (?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT(connection, source_id) DO UPDATE SET lead_key = excluded.lead_key, type = excluded.type, "
        "occurred_at = excluded.occurred_at, url = excluded.url, data = excluded.data",
        (connection, activity.source_id, lead_key, activity.type.value, activity.occurred_at.timestamp(), activity.url, data),
    )
    db.execute("UPDATE leads SET dirty = 1 WHERE key = ?", (lead_key,))
    return True


def _store_task_update(db: sqlite3.Connection, update: TaskUpdate) -> None:
    if update.completed_at is None:
        return
    at = update.completed_at.timestamp()
    db.execute(
        "UPDATE handoffs SET status = 'completed', closed_at = ?, close_reason = 'task completed', "
        "first_touch_at = COALESCE(first_touch_at, ?) WHERE task_key = ? AND status = 'open'",
        (at, at, update.key),
    )


def ingest(
    db: sqlite3.Connection,
    connection: str,
    records: Iterable[Lead | Activity | Opportunity | TaskUpdate | Rejected],
    *,
    stream: str,
    crm_connections: set[str],
    run_id: int | None,
    normalize_hook: Any = None,
) -> IngestCounts:
    """Store one page of records. Call inside the transaction that also saves the page's cursor."""
    counts = IngestCounts()
    for record in records:
        if isinstance(record, Lead):
            if normalize_hook is not None:
                for result in normalize_hook(lead=record, connection=connection):
                    if result is not None:
                        record = result
            counts.leads += 1
            counts.changed_leads += _store_lead(db, connection, record, crm_connections)
        elif isinstance(record, Activity):
            counts.activities += 1
            outcome = _store_activity(db, connection, record)
            if isinstance(outcome, str):
                counts.rejected += dead_letter_once(
                    db, run_id=run_id, connection=connection, kind=stream, key=record.source_id, reason=outcome,
                    payload=record.model_dump(mode="json"))
            else:
                counts.new_activities += outcome
        elif isinstance(record, Opportunity):
            placed = store_opportunity(db, connection, record)
            if isinstance(placed, str):
                counts.rejected += dead_letter_once(
                    db, run_id=run_id, connection=connection, kind=stream, key=record.source_id, reason=placed,
                    payload=record.model_dump(mode="json"))
        elif isinstance(record, TaskUpdate):
            counts.task_updates += 1
            counts.task_events.append(record)
            _store_task_update(db, record)
        elif isinstance(record, Rejected):
            counts.rejected += dead_letter_once(db, run_id=run_id, connection=connection, kind=stream,
                                                key=record.key, reason=record.reason, payload=record.payload)
        else:
            raise TypeError(f"{connection}/{stream}: unexpected record type {type(record).__name__}")
    return counts

"""Storing pulled records: one lead per person across connections, activities deduplicated.

Identity is the normalized e-mail. Each connection's view of a lead is kept in `lead_refs`; the
merged lead in `leads` is rebuilt from those views (see docs/architecture.md for which system wins
which field) and marked dirty only when it really changed.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from leadsync.connectors.base import Rejected, RemovedLead, TaskUpdate
from leadsync.core.models import Activity, Lead, Opportunity
from leadsync.core.normalize import normalize_email
from leadsync.core.quality.gate import record_agreement, record_conflicts
from leadsync.core.state import activities, dead_letters, leads, opportunities, waiting
from leadsync.core.sync import moves
from leadsync.core.sync.latecomers import rescored, wait
from leadsync.core.sync.merge import merge_views, rebuild

__all__ = ["IngestCounts", "TaskUpdateHandler", "ingest", "merge_views"]

# A lead's JSON as `model_dump_json()` gives it (bytes), without that method's keyword handling.
_json = Lead.__pydantic_serializer__.to_json

# Called with the page's transaction and the connection for every task update, so what it
# records commits with the page's cursor (the handoff package's `record_task_update`).
TaskUpdateHandler = Callable[[sqlite3.Connection, TaskUpdate, str], object]


@dataclass
class IngestCounts:
    leads: int = 0
    activities: int = 0
    changed_leads: int = 0
    new_activities: int = 0
    task_updates: int = 0
    rejected: int = 0
    waiting: int = 0  # activities and opportunities kept until their lead is stored (`place_waiting`)
    removed: int = 0  # stored lead records the vendor deleted or merged away
    task_events: list[TaskUpdate] = field(default_factory=list)


def _lead_key_for(db: sqlite3.Connection, connection: str, lead: Lead, record_id: str) -> str:
    return (normalize_email(lead.email) or leads.known_lead(db, connection, record_id)
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
    previous = leads.view(db, connection, record_id)
    if previous is not None and previous[0] == key and _same_content(previous[1], view):
        return False  # a re-read (look-back overlap, full refresh) or the echo of our own write
    leads.save_view(db, connection, record_id, key, view)
    changed = rebuild(db, key, crm_connections, fresh=(connection, record_id, lead, view))
    record_conflicts(db, key)  # records of one person that disagree are reported, not merged away
    if previous is None:
        moves.record_joined(db, connection, record_id, key)
    elif previous[0] != key:  # the record moved to another identity
        changed |= moves.record_moved(db, connection, record_id, previous[0], key, crm_connections)
    return changed


def _store_leads(db: sqlite3.Connection, connection: str, run: list[Lead], crm_connections: set[str]) -> int:
    """`_store_lead` for consecutive leads of one page, with a few statements for the whole run.

    Same result as storing them one by one: a run whose records share an identity, or where a
    record moves to another identity, is stored one by one.
    """
    record_ids = [lead.refs.get(connection) or lead.key for lead in run]
    previous = leads.views_of(db, connection, record_ids)
    fresh: list[tuple[str, str, Lead, str]] = []
    keys: set[str] = set()
    for lead, record_id in zip(run, record_ids):
        email = normalize_email(lead.email)
        known = previous.get(record_id)
        key = email or (known[0] if known else None) or lead.key or f"{connection}:{record_id}"
        if known is not None and known[0] != key:  # the record moves to another identity
            return sum(_store_lead(db, connection, lead, crm_connections) for lead in run)
        keys.add(key)
        refs = lead.refs
        if lead.key != key or lead.email != email or len(refs) != 1 or refs.get(connection) != record_id:
            lead = lead.model_copy(update={"key": key, "email": email, "refs": {connection: record_id}})
        view = _json(lead).decode()  # most connectors set key, e-mail and refs already
        if known is not None and _same_content(known[1], view):
            continue  # a re-read (look-back overlap, full refresh) or the echo of our own write
        fresh.append((record_id, key, lead, view))
    if len(set(record_ids)) < len(record_ids) or len(keys) < len(record_ids):
        return sum(_store_lead(db, connection, lead, crm_connections) for lead in run)
    if not fresh:
        return 0
    leads.save_views(db, [(connection, record_id, key, view) for record_id, key, _, view in fresh])
    shared = leads.shared_keys(db, {key: (connection, record_id) for record_id, key, _, _ in fresh})
    alone = [f for f in fresh if f[1] not in shared]
    stored = leads.stored_data_many(db, [key for _, key, _, _ in alone])
    saves = [(key, lead.email, view, lead.lead_source) for _, key, lead, view in alone if stored.get(key) != view]
    leads.save_many(db, saves)
    record_agreement(db, [key for _, key, _, _ in alone])
    changed = len(saves)
    for record_id, key, lead, view in fresh:
        if key in shared:  # other records of this person are stored: merge the views
            changed += rebuild(db, key, crm_connections, fresh=(connection, record_id, lead, view))
            record_conflicts(db, key)
            if record_id not in previous:
                moves.record_joined(db, connection, record_id, key)
    return changed


def _store_activity(db: sqlite3.Connection, connection: str, activity: Activity, stream: str,
                    run_id: int | None) -> str | bool | None:
    """True when new or changed, False when already stored, None when it waits for its lead, or a
    reason when it cannot be placed."""
    lead_key = normalize_email(activity.email) or ""
    if not lead_key and activity.lead_record_id:
        lead_key = leads.known_lead(db, connection, activity.lead_record_id) or ""
        if not lead_key:  # the record's lead is not stored yet (the connector's key is only a guess)
            wait(db, connection, [activity], stream, run_id)
            return None
    lead_key = lead_key or activity.lead_key
    if not lead_key:
        return f"activity {activity.source_id}: no e-mail and no lead record id"
    waiting.forget_read(db, connection, [activity.source_id])  # this read supersedes a waiting one
    activity = activity.model_copy(update={"connection": connection, "lead_key": lead_key})
    data = activity.model_dump_json()
    stored = activities.stored_data(db, connection, activity.source_id)
    if stored == data:
        return False
    activities.save(db, activity, data)
    leads.mark_dirty_many(db, rescored([(activity, data)], {activity.source_id: stored} if stored else {}))
    return True


def ingest(
    db: sqlite3.Connection,
    connection: str,
    records: Iterable[Lead | Activity | Opportunity | TaskUpdate | Rejected | RemovedLead],
    *,
    stream: str,
    crm_connections: set[str],
    run_id: int | None,
    normalize_hook: Any = None,
    on_task_update: TaskUpdateHandler | None = None,
) -> IngestCounts:
    """Store one page of records. Call inside the transaction that also saves the page's cursor.

    Task updates are collected in the counts and handed to `on_task_update` (the handoff
    package decides what they mean for an episode); this module stores leads and activities only.
    """
    counts = IngestCounts()
    if normalize_hook is not None and not _has_impls(normalize_hook):
        normalize_hook = None
    run: list[Lead] = []  # consecutive leads, stored together when the next non-lead (or the end) comes
    acts: list[Activity] = []  # consecutive activities, likewise
    for record in records:
        if isinstance(record, Lead):
            if acts:
                _store_activities(db, connection, acts, stream=stream, run_id=run_id, counts=counts)
                acts = []
            if normalize_hook is not None:
                for result in normalize_hook(lead=record, connection=connection):
                    if result is not None:
                        record = result
            counts.leads += 1
            run.append(record)
            continue
        if run:
            counts.changed_leads += _store_leads(db, connection, run, crm_connections)
            run = []
        if isinstance(record, Activity):
            counts.activities += 1
            acts.append(record)
            continue
        if acts:
            _store_activities(db, connection, acts, stream=stream, run_id=run_id, counts=counts)
            acts = []
        if isinstance(record, Opportunity):
            placed = _store_opportunity(db, connection, record, stream, run_id)
            if placed is None:
                counts.waiting += 1
            elif isinstance(placed, str):
                counts.rejected += dead_letters.add_once(
                    db, run_id=run_id, connection=connection, kind=stream, key=record.source_id, reason=placed,
                    payload=record.model_dump(mode="json"))
        elif isinstance(record, TaskUpdate):
            counts.task_updates += 1
            counts.task_events.append(record)
            if on_task_update is not None:
                on_task_update(db, record, connection)
        elif isinstance(record, RemovedLead):
            counts.removed += moves.record_removed(db, connection, record, crm_connections)
        elif isinstance(record, Rejected):
            counts.rejected += dead_letters.add_once(db, run_id=run_id, connection=connection, kind=stream,
                                                key=record.key, reason=record.reason, payload=record.payload)
        else:
            raise TypeError(f"{connection}/{stream}: unexpected record type {type(record).__name__}")
    if run:
        counts.changed_leads += _store_leads(db, connection, run, crm_connections)
    if acts:
        _store_activities(db, connection, acts, stream=stream, run_id=run_id, counts=counts)
    return counts


def _store_opportunity(db: sqlite3.Connection, connection: str, opportunity: Opportunity, stream: str,
                       run_id: int | None) -> str | bool | None:
    """`opportunities.store_opportunity`, or None when it waits for its lead (named by record id only)."""
    if (opportunity.lead_record_id and not normalize_email(opportunity.email)
            and not leads.known_lead(db, connection, opportunity.lead_record_id)):
        wait(db, connection, [opportunity], stream, run_id)  # the connector's key, if any, is only a guess
        return None
    waiting.forget_read(db, connection, [opportunity.source_id], "opportunity")
    return opportunities.store_opportunity(db, connection, opportunity)


def _store_activities(db: sqlite3.Connection, connection: str, run: list[Activity], *, stream: str,
                      run_id: int | None, counts: IngestCounts) -> None:
    """`_store_activity` for consecutive activities of one page, with a few statements for the whole run
    (one by one when a source id repeats in the run)."""
    if len({a.source_id for a in run}) < len(run):
        for activity in run:
            outcome = _store_activity(db, connection, activity, stream, run_id)
            _count_activity(db, connection, activity, outcome, stream, run_id, counts)
        return
    known = leads.known_leads(db, connection, [a.lead_record_id for a in run if a.lead_record_id and not a.email])
    stored = activities.stored_data_many(db, connection, [a.source_id for a in run])
    saves: list[tuple[Activity, str]] = []
    waits: list[Activity] = []
    placed: list[str] = []  # read under a stored lead: a waiting copy of an earlier read is superseded
    for activity in run:
        lead_key = normalize_email(activity.email) or ""
        if not lead_key and activity.lead_record_id:
            lead_key = known.get(activity.lead_record_id) or ""
            if not lead_key:  # the record's lead is not stored yet (the connector's key is only a guess)
                waits.append(activity)
                continue
        lead_key = lead_key or activity.lead_key
        if not lead_key:
            reason = f"activity {activity.source_id}: no e-mail and no lead record id"
            _count_activity(db, connection, activity, reason, stream, run_id, counts)
            continue
        if activity.connection != connection or activity.lead_key != lead_key:
            activity = activity.model_copy(update={"connection": connection, "lead_key": lead_key})
        placed.append(activity.source_id)
        data = activity.model_dump_json()
        if stored.get(activity.source_id) != data:
            saves.append((activity, data))
    waiting.forget_read(db, connection, placed)
    activities.save_many(db, saves)
    leads.mark_dirty_many(db, rescored(saves, stored))
    counts.new_activities += len(saves)
    if waits:
        wait(db, connection, waits, stream, run_id)
        counts.waiting += len(waits)


def _count_activity(db: sqlite3.Connection, connection: str, activity: Activity, outcome: str | bool | None,
                    stream: str, run_id: int | None, counts: IngestCounts) -> None:
    if outcome is None:
        counts.waiting += 1
    elif isinstance(outcome, str):
        counts.rejected += dead_letters.add_once(
            db, run_id=run_id, connection=connection, kind=stream, key=activity.source_id, reason=outcome,
            payload=activity.model_dump(mode="json"))
    else:
        counts.new_activities += outcome


def _has_impls(hook: Any) -> bool:
    """False for a pluggy hook nobody implements (calling it would only cost time)."""
    impls = getattr(hook, "get_hookimpls", None)
    return True if impls is None else bool(impls())

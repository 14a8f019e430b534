"""The handoff lifecycle, in one place: an episode's completion by its task, rejection by sales
(recycle), expiry, first touch, and the two hooks (`handoff_created`, `handoff_overdue`), which
both receive the typed `Handoff`."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from leadsync.connectors.base import TaskRequest, TaskUpdate, WriteResult, task_key_date
from leadsync.core.config import HandoffSettings, Settings
from leadsync.core.models import Handoff, Lead
from leadsync.core.normalize import nfkc, normalize_email
from leadsync.core.state import activities, handoffs, leads
from leadsync.core.state.store import StateStore

__all__ = [
    "EpisodeChanges",
    "announce_created",
    "is_rejected_status",
    "notify_overdue",
    "rebuild_orphans",
    "record_task_update",
    "update_episodes",
]

log = logging.getLogger(__name__)


@dataclass
class EpisodeChanges:
    """What one update did, by handoff task key."""

    completed: list[str] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)
    expired: list[str] = field(default_factory=list)
    first_touched: list[str] = field(default_factory=list)
    overdue_notified: list[str] = field(default_factory=list)
    rebuilt: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, int]:
        return {name: len(getattr(self, name)) for name in self.__dataclass_fields__}


def _fold(value: str | None) -> str:
    return (nfkc(value) or "").casefold()


def is_rejected_status(status: str | None, handoff: HandoffSettings) -> bool:
    """Whether a CRM lead status means "rejected by sales" (NFKC, case-insensitive)."""
    folded = _fold(status)
    return bool(folded) and folded in {_fold(s) for s in handoff.rejected_statuses}


def _newly_rejected(lead: Lead, opened_status: str | None, handoff: HandoffSettings) -> bool:
    """Rejected now, and not merely still carrying the rejection that predates this episode."""
    if not is_rejected_status(lead.status, handoff):
        return False
    return not is_rejected_status(opened_status, handoff) or _fold(opened_status) != _fold(lead.status)


def record_task_update(db: sqlite3.Connection, update: TaskUpdate, connection: str | None = None) -> bool:
    """What a CRM task update means for its episode; True when it closed an open one.

    This is the only place a task update changes an episode. The sync calls it inside the
    transaction that stores the pulled page and its cursor, so an update is never lost between
    the two. The rules:

    * a completion is a touch: `first_touch_at` becomes the earlier of the one recorded (a call
      or meeting) and the completion time, whatever the episode's status (a rep who completes the
      task of an expired episode still touched the lead);
    * a completion closes an open episode as `completed` at the completion time; an episode
      already closed (rejected, expired, completed) keeps its status;
    * a completion of a leadsync task (`ls-YYYYMMDD-...`) no episode has, that names its lead
      (a state store that lost the episode), rebuilds the episode as completed: opened on the
      key's date, closed at the completion time, owned by the task's owner when the CRM names
      one. A lead not stored yet is resolved when the run plans (`rebuild_orphans`), the
      owner kept with the completion;
    * any other update changes nothing.
    """
    if update.completed_at is None:
        return False
    row = handoffs.by_task_key(db, update.key)
    if row is None:
        if connection is not None and task_key_date(update.key) is not None:
            _rebuild_or_keep(db, update, connection)
        return False
    done = update.completed_at.timestamp()
    if row["first_touch_at"] is None or done < row["first_touch_at"]:
        handoffs.set_first_touch(db, row["id"], done)
    if row["status"] != "open":
        return False
    handoffs.close(db, row["id"], "completed", done, "task completed")
    return True


def _lead_of(db: sqlite3.Connection, connection: str, lead_key: str | None, email: str | None,
             record_id: str | None) -> str | None:
    """The stored lead a task names: by the connection's record id, else e-mail, else key."""
    if record_id:
        found = leads.known_lead(db, connection, record_id)
        if found:
            return found
    for key in (normalize_email(email), lead_key):
        if key:
            found = leads.find_key(db, key)
            if found:
                return found
    return None


def _rebuild(db: sqlite3.Connection, lead_key: str, connection: str, task_key: str, completed_at: float,
             owner: str | None = None) -> bool:
    """Record the completed episode of `task_key` for `lead_key` (assigned to `owner`, when the CRM
    named one); False when the key has one."""
    opened = datetime.combine(task_key_date(task_key), datetime.min.time(), timezone.utc).timestamp()  # type: ignore[arg-type]
    inserted = handoffs.insert_closed(
        db, lead_key=lead_key, connection=connection, status="completed", opened_at=min(opened, completed_at),
        closed_at=completed_at, task_key=task_key, reason="task completed", first_touch_at=completed_at,
        owner=nfkc(owner))
    if inserted:
        log.info("rebuilt the completed handoff %s of %s from the CRM", task_key, lead_key)
    return inserted


def _rebuild_or_keep(db: sqlite3.Connection, update: TaskUpdate, connection: str) -> None:
    if not (update.lead_key or update.email or update.record_id):
        return
    done = update.completed_at.timestamp()  # type: ignore[union-attr]
    lead_key = _lead_of(db, connection, update.lead_key, update.email, update.record_id)
    if lead_key is not None:
        _rebuild(db, lead_key, connection, update.key, done, update.owner)
        return
    handoffs.save_orphan(db, task_key=update.key, connection=connection, lead_key=update.lead_key,
                         email=normalize_email(update.email), record_id=update.record_id, completed_at=done,
                         owner=update.owner)


def rebuild_orphans(db: sqlite3.Connection) -> list[str]:
    """Rebuild the completed episodes of kept completions whose lead is now stored; their keys.

    A completion whose lead is still unknown is kept for a later run.
    """
    rebuilt, resolved = [], []
    for row in handoffs.orphans(db):
        if handoffs.by_task_key(db, row["task_key"]) is not None:
            resolved.append(row["task_key"])
            continue
        lead_key = _lead_of(db, row["connection"], row["lead_key"], row["email"], row["record_id"])
        if lead_key is None:
            continue
        if _rebuild(db, lead_key, row["connection"], row["task_key"], row["completed_at"], row["owner"]):
            rebuilt.append(row["task_key"])
        resolved.append(row["task_key"])
    handoffs.drop_orphans(db, resolved)
    return rebuilt


def announce_created(store: StateStore, host: Any, request: TaskRequest, result: WriteResult) -> None:
    """Call `handoff_created` for a task the CRM acknowledged, with the episode as a `Handoff`.

    An adopted task (the CRM already had it under another key) is announced with the episode now
    tracked under that key. A failing hook is logged, never fails the run.
    """
    if host is None:
        return
    row = handoffs.by_task_key(store.db, result.adopted_key or request.key)
    if row is None:
        return
    try:
        host.hook.handoff_created(handoff=handoffs.to_model(row), task=request)
    except Exception as exc:  # a notification plugin must not fail the run
        log.warning("handoff_created hook failed: %s", exc)


def update_episodes(
    store: StateStore,
    settings: Settings,
    as_of: datetime,
    host: Any,
    task_updates: Sequence[TaskUpdate] = (),
    *,
    notify: bool | None = None,
) -> EpisodeChanges:
    """Close completed tasks (`task_updates` not yet recorded by the sync, see
    `record_task_update`), recycle leads sales rejected, expire old episodes, record first
    touches, and notify overdue ones once.

    `notify` None (default) calls the `handoff_overdue` hook only for a store on disk: the
    in-memory copies that dry runs and previews work on never notify anyone.
    """
    if notify is None:
        notify = store.path is not None
    changes = EpisodeChanges()
    now = as_of.timestamp()
    handoff = settings.handoff
    with store.transaction() as db:
        for update in task_updates:
            if record_task_update(db, update):
                changes.completed.append(update.key)
        changes.rebuilt = rebuild_orphans(db)
        for row in handoffs.open_rows(db):
            touch = activities.first_touch(db, row["lead_key"], row["opened_at"], now)
            if touch is not None and row["first_touch_at"] is None:
                handoffs.set_first_touch(db, row["id"], touch)
                changes.first_touched.append(row["task_key"])
            lead = leads.load(db, row["lead_key"])
            if lead is not None and _newly_rejected(lead, row["opened_status"], handoff):
                reason = nfkc(lead.status_reason) or nfkc(lead.status)
                handoffs.close(db, row["id"], "rejected", now, reason)
                changes.rejected.append(row["task_key"])
                continue
            expires = row["opened_at"] + timedelta(days=handoff.expire_days).total_seconds()
            if expires <= now:
                handoffs.close(db, row["id"], "expired", expires, f"no completion within {handoff.expire_days} days")
                changes.expired.append(row["task_key"])
    if notify:
        changes.overdue_notified = notify_overdue(store, as_of, host)
    return changes


def notify_overdue(store: StateStore, as_of: datetime, host: Any) -> list[str]:
    """Call `handoff_overdue` once per open handoff past its due time with no first touch.

    The flag is committed before the hook runs: a crash in between loses a notice rather than
    sending it twice.
    """
    with store.transaction() as db:
        rows = handoffs.overdue_candidates(db, as_of.timestamp())
        due = []
        for row in rows:
            # a call or meeting the sync has not yet attributed still counts as the first touch
            touch = activities.first_touch(db, row["lead_key"], row["opened_at"], as_of.timestamp())
            if touch is not None:
                handoffs.set_first_touch(db, row["id"], touch)
                continue
            handoffs.mark_overdue_notified(db, row["id"])
            due.append(row)
        rows = due
    notified = []
    for row in rows:
        episode: Handoff = handoffs.to_model(row)
        lead = leads.load(store.db, row["lead_key"])
        notified.append(row["task_key"])
        if host is None:
            continue
        try:
            host.hook.handoff_overdue(handoff=episode, lead=lead)
        except Exception as exc:  # one plugin's bug must not stop the run
            log.warning("handoff_overdue hook failed for %s: %s", row["lead_key"], exc)
    return notified

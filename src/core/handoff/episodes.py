"""Handoff episodes over time: completion, rejection by sales (recycle), expiry, first touch, overdue."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from leadsync.connectors.base import TaskUpdate
from leadsync.core.config import HandoffSettings, Settings
from leadsync.core.handoff.data import HANDOFF_COLUMNS, first_touch_activity, handoff_from_row, load_lead
from leadsync.core.models import Handoff, Lead
from leadsync.core.normalize import nfkc
from leadsync.core.state.store import StateStore

__all__ = ["EpisodeChanges", "is_rejected_status", "notify_overdue", "update_episodes"]

log = logging.getLogger(__name__)


@dataclass
class EpisodeChanges:
    """What one update did, by handoff task key."""

    completed: list[str] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)
    expired: list[str] = field(default_factory=list)
    first_touched: list[str] = field(default_factory=list)
    overdue_notified: list[str] = field(default_factory=list)

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


def update_episodes(
    store: StateStore,
    settings: Settings,
    as_of: datetime,
    host: Any,
    task_updates: Sequence[TaskUpdate] = (),
    *,
    notify: bool | None = None,
) -> EpisodeChanges:
    """Close completed tasks, recycle leads sales rejected, expire old episodes, record first
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
            row = db.execute("SELECT id, status, first_touch_at FROM handoffs WHERE task_key = ?", (update.key,)).fetchone()
            if row is None or update.completed_at is None:
                continue
            done = update.completed_at.timestamp()
            if row["first_touch_at"] is None or done < row["first_touch_at"]:
                db.execute("UPDATE handoffs SET first_touch_at = ? WHERE id = ?", (done, row["id"]))
            if row["status"] == "open":
                db.execute(
                    "UPDATE handoffs SET status = 'completed', closed_at = ?, close_reason = 'task completed' WHERE id = ?",
                    (done, row["id"]),
                )
                changes.completed.append(update.key)
        open_rows = db.execute(f"SELECT {HANDOFF_COLUMNS} FROM handoffs WHERE status = 'open' ORDER BY id").fetchall()
        for row in open_rows:
            touch = first_touch_activity(store, row["lead_key"], row["opened_at"], now)
            if touch is not None and row["first_touch_at"] is None:
                db.execute("UPDATE handoffs SET first_touch_at = ? WHERE id = ?", (touch, row["id"]))
                changes.first_touched.append(row["task_key"])
            lead = load_lead(store, row["lead_key"])
            if lead is not None and _newly_rejected(lead, row["opened_status"], handoff):
                reason = nfkc(lead.status_reason) or nfkc(lead.status)
                db.execute(
                    "UPDATE handoffs SET status = 'rejected', closed_at = ?, close_reason = ? WHERE id = ?",
                    (now, reason, row["id"]),
                )
                changes.rejected.append(row["task_key"])
                continue
            expires = row["opened_at"] + timedelta(days=handoff.expire_days).total_seconds()
            if expires <= now:
                db.execute(
                    "UPDATE handoffs SET status = 'expired', closed_at = ?, close_reason = ? WHERE id = ?",
                    (expires, f"no completion within {handoff.expire_days} days", row["id"]),
                )
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
        rows = db.execute(
            f"SELECT {HANDOFF_COLUMNS} FROM handoffs WHERE status = 'open' AND overdue_notified = 0 "
            "AND first_touch_at IS NULL AND due_at <= ? ORDER BY due_at, id",
            (as_of.timestamp(),),
        ).fetchall()
        due = []
        for row in rows:
            # a call or meeting the sync has not yet attributed still counts as the first touch
            touch = first_touch_activity(store, row["lead_key"], row["opened_at"], as_of.timestamp())
            if touch is not None:
                db.execute("UPDATE handoffs SET first_touch_at = ? WHERE id = ?", (touch, row["id"]))
                continue
            db.execute("UPDATE handoffs SET overdue_notified = 1 WHERE id = ?", (row["id"],))
            due.append(row)
        rows = due
    notified = []
    for row in rows:
        episode: Handoff = handoff_from_row(row)
        lead = load_lead(store, row["lead_key"])
        notified.append(row["task_key"])
        if host is None:
            continue
        try:
            host.hook.handoff_overdue(handoff=episode, lead=lead)
        except Exception as exc:  # one plugin's bug must not stop the run
            log.warning("handoff_overdue hook failed for %s: %s", row["lead_key"], exc)
    return notified

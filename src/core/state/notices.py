"""State operations of notifications: what happened that a channel should hear of, and the
bookkeeping of notices in the outbox (connection ``notify:NAME``, kind ``notice``)."""

from __future__ import annotations

import json
import sqlite3
import time
from typing import Any

__all__ = [
    "NOTICE_KIND",
    "channel_since",
    "created_since",
    "dead_letter_mark",
    "digest_figures",
    "handoff_facts",
    "mark_unconfirmed",
    "overdue_since",
    "previous_run",
    "unsend",
]

NOTICE_KIND = "notice"


def channel_since(db: sqlite3.Connection, channel: str, now: float) -> float:
    """When this channel was first seen configured (recorded now on first call): events before
    it are never caught up, so adding a channel does not replay history."""
    key = f"notify.since.{channel}"
    row = db.execute("SELECT value FROM kv WHERE key = ?", (key,)).fetchone()
    if row is not None:
        return float(json.loads(row[0]))
    db.execute("INSERT INTO kv(key, value) VALUES (?, ?) ON CONFLICT(key) DO NOTHING", (key, json.dumps(now)))
    return now


def handoff_facts(db: sqlite3.Connection, *, handoff_id: int | None = None, task_key: str | None = None
                  ) -> dict[str, Any] | None:
    """One handoff with its lead and its record id in the task connection."""
    where, arg = ("h.id = ?", handoff_id) if handoff_id is not None else ("h.task_key = ?", task_key)
    row = db.execute(
        "SELECT h.id, h.lead_key, h.connection, h.owner, h.score, h.opened_at, h.due_at, h.task_key, h.reasons, "
        "h.status, h.first_touch_at, l.data, r.record_id FROM handoffs h LEFT JOIN leads l ON l.key = h.lead_key "
        "LEFT JOIN lead_refs r ON r.lead_key = h.lead_key AND r.connection = h.connection "
        f"WHERE {where} LIMIT 1",
        (arg,),
    ).fetchone()
    if row is None:
        return None
    return {
        "id": row[0], "lead_key": row[1], "connection": row[2], "owner": row[3], "score": row[4],
        "opened_at": row[5], "due_at": row[6], "task_key": row[7], "reasons": json.loads(row[8] or "[]"),
        "status": row[9], "first_touch_at": row[10], "lead": json.loads(row[11]) if row[11] else {},
        "record_id": row[12],
    }


def created_since(db: sqlite3.Connection, since: float) -> list[int]:
    """Handoffs whose task the CRM acknowledged at or after `since` (the key it adopted included)."""
    rows = db.execute(
        "SELECT DISTINCT h.id FROM outbox o JOIN handoffs h ON h.task_key = o.key OR h.task_key = o.adopted_key "
        "WHERE o.kind = 'task' AND o.status = 'done' AND o.updated_at >= ? ORDER BY h.id",
        (since,),
    ).fetchall()
    return [r[0] for r in rows]


def overdue_since(db: sqlite3.Connection, since: float) -> list[int]:
    """Handoffs flagged overdue (the `handoff_overdue` hook was due) whose due time is at or after `since`."""
    rows = db.execute("SELECT id FROM handoffs WHERE overdue_notified = 1 AND due_at >= ? ORDER BY id",
                      (since,)).fetchall()
    return [r[0] for r in rows]


def previous_run(db: sqlite3.Connection, run_id: int) -> dict[str, Any] | None:
    """The last finished run before `run_id` (killed ones skipped): its status and summary."""
    row = db.execute(
        "SELECT id, status, exit_status, summary FROM runs WHERE id < ? AND status NOT IN ('running', 'killed') "
        "ORDER BY id DESC LIMIT 1", (run_id,)).fetchone()
    if row is None:
        return None
    return {"id": row[0], "status": row[1], "exit_status": row[2], "summary": json.loads(row[3] or "{}")}


def dead_letter_mark(db: sqlite3.Connection) -> tuple[int, int, list[str]]:
    """(count, newest id, a few reasons) of dead letters nobody re-queued yet."""
    row = db.execute("SELECT COUNT(*), COALESCE(MAX(id), 0) FROM dead_letters WHERE requeued_at IS NULL").fetchone()
    reasons = [r[0] for r in db.execute(
        "SELECT reason, COUNT(*) FROM dead_letters WHERE requeued_at IS NULL GROUP BY reason ORDER BY 2 DESC LIMIT 5")]
    return int(row[0]), int(row[1]), reasons


def digest_figures(db: sqlite3.Connection, now: float) -> dict[str, Any]:
    """New MQLs of the last 24 hours, open and overdue handoffs, SLA compliance of the last 30 days
    (first touch by the due time, among handoffs already due)."""
    new = db.execute("SELECT COUNT(*) FROM handoffs WHERE opened_at >= ?", (now - 86400,)).fetchone()[0]
    open_ = db.execute("SELECT COUNT(*) FROM handoffs WHERE status = 'open'").fetchone()[0]
    overdue = db.execute("SELECT COUNT(*) FROM handoffs WHERE status = 'open' AND first_touch_at IS NULL AND due_at <= ?",
                         (now,)).fetchone()[0]
    due, met = db.execute(
        "SELECT COUNT(*), COALESCE(SUM(first_touch_at IS NOT NULL AND first_touch_at <= due_at), 0) FROM handoffs "
        "WHERE opened_at >= ? AND due_at <= ?", (now - 30 * 86400, now)).fetchone()
    return {"new_mqls": new, "open": open_, "overdue": overdue, "due_30d": due, "met_30d": met,
            "sla_compliance": (met / due) if due else None}


def unsend(db: sqlite3.Connection, key: str) -> None:
    """The send of this notice certainly did not arrive: it counts as never sent."""
    db.execute("UPDATE outbox SET sends = MAX(sends - 1, 0), sent_at = NULL WHERE key = ?", (key,))


def mark_unconfirmed(db: sqlite3.Connection, key: str, reason: str) -> None:
    """A notice whose earlier send may have arrived, on a channel that cannot recognise a resend:
    it is not sent again (a person checks the channel; `sync status` lists it)."""
    db.execute("UPDATE outbox SET status = 'unconfirmed', error = ?, updated_at = ? WHERE key = ?",
               (reason, time.time(), key))

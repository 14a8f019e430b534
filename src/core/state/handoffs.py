"""Handoff episodes: one row per MQL handed to sales, from open to completed, rejected or expired.

Rows are returned as mappings of the columns in `COLUMNS`; `to_model` makes the typed `Handoff`
that hooks receive.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from leadsync.core.models import Handoff, HandoffStatus, Segment
from leadsync.core.state.store import from_epoch

__all__ = [
    "COLUMNS",
    "all_rows",
    "by_task_key",
    "close",
    "drop_orphans",
    "insert",
    "insert_closed",
    "last_for_lead",
    "mark_overdue_notified",
    "move_lead",
    "open_for_lead",
    "open_rows",
    "opened_since",
    "orphans",
    "overdue_candidates",
    "retarget_task",
    "save_orphan",
    "set_first_touch",
    "to_model",
]

COLUMNS = (
    "id, lead_key, connection, status, owner, score, segment, opened_at, due_at, task_key, "
    "closed_at, close_reason, first_touch_at, overdue_notified, reasons, opened_status"
)
Row = sqlite3.Row


def to_model(row: Row) -> Handoff:
    return Handoff(
        id=row["id"],
        lead_key=row["lead_key"],
        connection=row["connection"],
        status=HandoffStatus(row["status"]),
        owner=row["owner"],
        score=row["score"],
        segment=Segment(row["segment"]),
        opened_at=from_epoch(row["opened_at"]),  # type: ignore[arg-type]
        due_at=from_epoch(row["due_at"]),  # type: ignore[arg-type]
        task_key=row["task_key"],
        closed_at=from_epoch(row["closed_at"]),
        close_reason=row["close_reason"],
        first_touch_at=from_epoch(row["first_touch_at"]),
    )


def by_task_key(db: sqlite3.Connection, task_key: str) -> Row | None:
    return db.execute(f"SELECT {COLUMNS} FROM handoffs WHERE task_key = ?", (task_key,)).fetchone()


def open_for_lead(db: sqlite3.Connection, lead_key: str) -> Row | None:
    return db.execute(f"SELECT {COLUMNS} FROM handoffs WHERE lead_key = ? AND status = 'open'", (lead_key,)).fetchone()


def last_for_lead(db: sqlite3.Connection, lead_key: str) -> Row | None:
    return db.execute(
        f"SELECT {COLUMNS} FROM handoffs WHERE lead_key = ? ORDER BY opened_at DESC, id DESC LIMIT 1", (lead_key,)
    ).fetchone()


def open_rows(db: sqlite3.Connection) -> list[Row]:
    return db.execute(f"SELECT {COLUMNS} FROM handoffs WHERE status = 'open' ORDER BY id").fetchall()


def all_rows(db: sqlite3.Connection) -> list[Row]:
    """Every episode, oldest first."""
    return db.execute(f"SELECT {COLUMNS} FROM handoffs ORDER BY opened_at, id").fetchall()


def opened_since(db: sqlite3.Connection, since: float) -> list[Row]:
    return db.execute(f"SELECT {COLUMNS} FROM handoffs WHERE opened_at >= ? ORDER BY opened_at, id", (since,)).fetchall()


def overdue_candidates(db: sqlite3.Connection, as_of: float) -> list[Row]:
    """Open episodes past their due time, with no first touch and not yet notified."""
    return db.execute(
        f"SELECT {COLUMNS} FROM handoffs WHERE status = 'open' AND overdue_notified = 0 "
        "AND first_touch_at IS NULL AND due_at <= ? ORDER BY due_at, id",
        (as_of,),
    ).fetchall()


def insert(
    db: sqlite3.Connection, *, lead_key: str, connection: str, owner: str | None, score: int, segment: str,
    opened_at: float, due_at: float, task_key: str, reasons: list[dict[str, Any]], opened_status: str | None,
) -> bool:
    """Open an episode; False when the lead already has an open one or the task key is taken."""
    cursor = db.execute(
        "INSERT OR IGNORE INTO handoffs(lead_key, connection, status, owner, score, segment, opened_at, "
        "due_at, task_key, reasons, opened_status) VALUES (?, ?, 'open', ?, ?, ?, ?, ?, ?, ?, ?)",
        (lead_key, connection, owner, score, segment, opened_at, due_at, task_key,
         json.dumps(reasons, ensure_ascii=False), opened_status),
    )
    return cursor.rowcount == 1


def set_first_touch(db: sqlite3.Connection, handoff_id: int, at: float) -> None:
    db.execute("UPDATE handoffs SET first_touch_at = ? WHERE id = ?", (at, handoff_id))


def close(db: sqlite3.Connection, handoff_id: int, status: str, closed_at: float, reason: str | None) -> None:
    """Close an episode as completed, rejected or expired."""
    db.execute("UPDATE handoffs SET status = ?, closed_at = ?, close_reason = ? WHERE id = ?",
               (status, closed_at, reason, handoff_id))


def mark_overdue_notified(db: sqlite3.Connection, handoff_id: int) -> None:
    db.execute("UPDATE handoffs SET overdue_notified = 1 WHERE id = ?", (handoff_id,))


def move_lead(db: sqlite3.Connection, old_key: str, new_key: str, connection: str | None = None, *,
              now: float) -> None:
    """The episodes of a lead (those of `connection` only, when given) go to the lead its record
    moved to (the same person: its open task, cooldown and history stand). When the new lead has
    an open one of its own, the old lead's open one is closed as expired instead (one person, one
    open handoff: the two tasks are the same follow-up)."""
    only, params = ("", ()) if connection is None else (" AND connection = ?", (connection,))
    has_open = "EXISTS (SELECT 1 FROM handoffs h WHERE h.lead_key = ? AND h.status = 'open')"
    db.execute(f"UPDATE handoffs SET status = 'expired', closed_at = ?, close_reason = ? "
               f"WHERE lead_key = ?{only} AND status = 'open' AND {has_open}",
               (now, f"merged into the open handoff of {new_key}", old_key, *params, new_key))
    db.execute(f"UPDATE handoffs SET lead_key = ? WHERE lead_key = ?{only}", (new_key, old_key, *params))


def retarget_task(db: sqlite3.Connection, task_key: str, adopted_key: str) -> bool:
    """Track the episode of `task_key` under `adopted_key` instead, unless another episode has it."""
    if db.execute("SELECT 1 FROM handoffs WHERE task_key = ?", (adopted_key,)).fetchone() is not None:
        return False
    db.execute("UPDATE handoffs SET task_key = ? WHERE task_key = ?", (adopted_key, task_key))
    return True


def insert_closed(
    db: sqlite3.Connection, *, lead_key: str, connection: str, status: str, opened_at: float, closed_at: float,
    task_key: str, reason: str, first_touch_at: float | None, owner: str | None = None,
) -> bool:
    """Record an episode that is already closed (rebuilt from the CRM); False when the key is taken.

    The score is not known for such an episode: score 0, segment hot; the owner is the task's,
    when the CRM reported it.
    """
    cursor = db.execute(
        "INSERT OR IGNORE INTO handoffs(lead_key, connection, status, owner, score, segment, opened_at, due_at, "
        "task_key, closed_at, close_reason, first_touch_at, overdue_notified, reasons) "
        "VALUES (?, ?, ?, ?, 0, 'hot', ?, ?, ?, ?, ?, ?, 1, '[]')",
        (lead_key, connection, status, owner, opened_at, opened_at, task_key, closed_at, reason, first_touch_at),
    )
    return cursor.rowcount == 1


def save_orphan(
    db: sqlite3.Connection, *, task_key: str, connection: str, lead_key: str | None, email: str | None,
    record_id: str | None, completed_at: float, owner: str | None = None,
) -> None:
    """Keep a completion of a leadsync task whose lead is not known yet (the earliest completion
    wins; the owner last reported is kept)."""
    db.execute(
        "INSERT INTO orphan_completions(task_key, connection, lead_key, email, record_id, completed_at, owner) "
        "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(task_key) DO UPDATE SET "
        "completed_at = MIN(orphan_completions.completed_at, excluded.completed_at), "
        "owner = COALESCE(excluded.owner, orphan_completions.owner)",
        (task_key, connection, lead_key, email, record_id, completed_at, owner),
    )


def orphans(db: sqlite3.Connection) -> list[Row]:
    """The completions kept by `save_orphan`, oldest first."""
    return db.execute(
        "SELECT task_key, connection, lead_key, email, record_id, completed_at, owner FROM orphan_completions "
        "ORDER BY completed_at, task_key"
    ).fetchall()


def drop_orphans(db: sqlite3.Connection, task_keys: list[str]) -> None:
    db.executemany("DELETE FROM orphan_completions WHERE task_key = ?", [(k,) for k in task_keys])

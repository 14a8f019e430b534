"""Reading what the handoff needs from the state store: leads, scores, activities, episodes."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime

from leadsync.core.models import Activity, Handoff, HandoffStatus, Lead, RuleHit, Score, Segment
from leadsync.core.state.store import StateStore, from_epoch

__all__ = [
    "HANDOFF_COLUMNS",
    "first_touch_activity",
    "handoff_from_row",
    "hot_scores",
    "last_episode",
    "load_lead",
    "open_episode",
    "recent_activities",
    "score_from_row",
]

HANDOFF_COLUMNS = (
    "id, lead_key, connection, status, owner, score, segment, opened_at, due_at, task_key, "
    "closed_at, close_reason, first_touch_at, overdue_notified, reasons, opened_status"
)


def load_lead(store: StateStore, lead_key: str) -> Lead | None:
    row = store.db.execute("SELECT data FROM leads WHERE key = ?", (lead_key,)).fetchone()
    return Lead.model_validate_json(row[0]) if row else None


def score_from_row(row: sqlite3.Row) -> Score:
    breakdown = [RuleHit.model_validate(hit) for hit in json.loads(row["breakdown"] or "[]")]
    return Score(
        lead_key=row["lead_key"],
        total=row["total"],
        behavior=row["behavior"],
        attribute=row["attribute"],
        segment=Segment(row["segment"]),
        sheet_version=row["sheet_version"],
        scored_at=from_epoch(row["scored_at"]),  # type: ignore[arg-type]
        breakdown=breakdown,
        next_change_at=from_epoch(row["next_change_at"]),
    )


def hot_scores(store: StateStore) -> list[Score]:
    rows = store.db.execute("SELECT * FROM scores WHERE segment = ? ORDER BY total DESC, lead_key", (Segment.HOT.value,))
    return [score_from_row(row) for row in rows]


def recent_activities(store: StateStore, lead_key: str, limit: int, before: datetime | None = None) -> list[Activity]:
    """The lead's latest activities, newest first (not after `before` when given)."""
    cutoff = before.timestamp() if before else float("inf")
    rows = store.db.execute(
        "SELECT data FROM activities WHERE lead_key = ? AND occurred_at <= ? ORDER BY occurred_at DESC, source_id LIMIT ?",
        (lead_key, cutoff, limit),
    )
    return [Activity.model_validate_json(row[0]) for row in rows]


def first_touch_activity(store: StateStore, lead_key: str, after: float, until: float) -> float | None:
    """Epoch of the lead's first call or meeting in [after, until], the rep's first touch."""
    row = store.db.execute(
        "SELECT MIN(occurred_at) FROM activities WHERE lead_key = ? AND type IN ('call', 'meeting') "
        "AND occurred_at >= ? AND occurred_at <= ?",
        (lead_key, after, until),
    ).fetchone()
    return row[0] if row and row[0] is not None else None


def handoff_from_row(row: sqlite3.Row) -> Handoff:
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


def open_episode(store: StateStore, lead_key: str) -> sqlite3.Row | None:
    return store.db.execute(
        f"SELECT {HANDOFF_COLUMNS} FROM handoffs WHERE lead_key = ? AND status = 'open'", (lead_key,)
    ).fetchone()


def last_episode(store: StateStore, lead_key: str) -> sqlite3.Row | None:
    return store.db.execute(
        f"SELECT {HANDOFF_COLUMNS} FROM handoffs WHERE lead_key = ? ORDER BY opened_at DESC, id DESC LIMIT 1",
        (lead_key,),
    ).fetchone()


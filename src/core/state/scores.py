"""Scores: the current score of each lead, its history, and what each connection last acknowledged."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Sequence
from typing import Any

from leadsync.core.models import RuleHit, Score, Segment
from leadsync.core.state.store import from_epoch

__all__ = [
    "FINGERPRINT",
    "ScoreRow",
    "hot",
    "load",
    "put",
    "put_history",
    "record_pushed",
    "requalified",
    "rescore_targets",
    "unpushed",
    "write",
]

# One chunk of a rescore: (lead_key, total, behavior, attribute, segment, sheet_version, scored_at,
# next_change_at, breakdown JSON, reason).
ScoreRow = tuple[str, int, int, int, str, str, float, "float | None", str, str]

# What a connection must have acknowledged for a score to count as pushed.
FINGERPRINT = "s.total || '|' || s.segment || '|' || s.sheet_version"


def _score(row: sqlite3.Row, email: str | None = None) -> Score:
    return Score(
        lead_key=row["lead_key"], email=email, total=row["total"], behavior=row["behavior"],
        attribute=row["attribute"], segment=Segment(row["segment"]), sheet_version=row["sheet_version"],
        scored_at=from_epoch(row["scored_at"]),  # type: ignore[arg-type]
        next_change_at=from_epoch(row["next_change_at"]),
        breakdown=[RuleHit.model_validate(hit) for hit in json.loads(row["breakdown"] or "[]")],
    )


def load(db: sqlite3.Connection, lead_key: str) -> Score | None:
    """The stored score of a lead (with its e-mail), as the last rescore left it, or None."""
    row = db.execute(
        "SELECT s.*, l.email AS email FROM scores s LEFT JOIN leads l ON l.key = s.lead_key WHERE s.lead_key = ?",
        (lead_key,),
    ).fetchone()
    return _score(row, row["email"]) if row is not None else None


def hot(db: sqlite3.Connection) -> list[Score]:
    """Every hot score, highest first."""
    rows = db.execute("SELECT * FROM scores WHERE segment = ? ORDER BY total DESC, lead_key", (Segment.HOT.value,))
    return [_score(row) for row in rows]


def rescore_targets(db: sqlite3.Connection, as_of: float) -> list[str]:
    """Leads to rescore: dirty ones, and those whose score changes by itself by `as_of`."""
    rows = db.execute(
        "SELECT key FROM leads WHERE dirty = 1 "
        "UNION SELECT lead_key FROM scores WHERE next_change_at IS NOT NULL AND next_change_at <= ?",
        (as_of,),
    ).fetchall()
    return [r[0] for r in rows]


_TEMP = """CREATE TEMP TABLE IF NOT EXISTS scoring_new (
    lead_key TEXT PRIMARY KEY, total INTEGER, behavior INTEGER, attribute INTEGER, segment TEXT,
    sheet_version TEXT, scored_at REAL, next_change_at REAL, breakdown TEXT, reason TEXT)"""
_CHANGED = """FROM scoring_new n LEFT JOIN scores s ON s.lead_key = n.lead_key
    WHERE s.lead_key IS NULL OR s.total != n.total OR s.segment != n.segment"""


def write(db: sqlite3.Connection, rows: Sequence[ScoreRow]) -> list[tuple[str, bool]]:
    """Store one chunk of scores: history for changed ones, the scores, dirty flags cleared.

    Returns (lead key, segment moved) of every lead whose total or segment changed. Call inside a
    transaction.
    """
    db.execute(_TEMP)
    db.execute("DELETE FROM scoring_new")
    db.executemany("INSERT OR REPLACE INTO scoring_new VALUES (?,?,?,?,?,?,?,?,?,?)", rows)
    changed = [(key, bool(moved)) for key, moved in db.execute(
        f"SELECT n.lead_key, s.segment IS NULL OR s.segment != n.segment {_CHANGED}"
    ).fetchall()]
    db.execute(
        "INSERT INTO score_history(lead_key, at, total, segment, previous_total, previous_segment, reason, sheet_version) "
        "SELECT n.lead_key, n.scored_at, n.total, n.segment, s.total, s.segment, "
        "CASE WHEN s.sheet_version IS NOT NULL AND s.sheet_version != n.sheet_version "
        "THEN 'sheet ' || s.sheet_version || ' -> ' || n.sheet_version ELSE n.reason END, n.sheet_version "
        + _CHANGED
    )
    db.execute(
        "INSERT INTO scores(lead_key, total, behavior, attribute, segment, sheet_version, scored_at, "
        "next_change_at, breakdown) SELECT lead_key, total, behavior, attribute, segment, sheet_version, "
        "scored_at, next_change_at, breakdown FROM scoring_new WHERE true ON CONFLICT(lead_key) DO UPDATE SET "
        "total = excluded.total, behavior = excluded.behavior, attribute = excluded.attribute, "
        "segment = excluded.segment, sheet_version = excluded.sheet_version, scored_at = excluded.scored_at, "
        "next_change_at = excluded.next_change_at, breakdown = excluded.breakdown"
    )
    db.execute("UPDATE leads SET dirty = 0 WHERE dirty = 1 AND key IN (SELECT lead_key FROM scoring_new)")
    db.execute("DELETE FROM scoring_new")
    return changed


def put(db: sqlite3.Connection, lead_key: str, total: int, behavior: int, attribute: int, segment: str,
        scored_at: float, breakdown: list[dict[str, Any]], sheet_version: str = "v1") -> None:
    """Store a score as it is (tests fill stores this way; the engine uses `write`)."""
    db.execute(
        "INSERT INTO scores(lead_key, total, behavior, attribute, segment, sheet_version, scored_at, breakdown) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(lead_key) DO UPDATE SET total = excluded.total, "
        "segment = excluded.segment, scored_at = excluded.scored_at, breakdown = excluded.breakdown",
        (lead_key, total, behavior, attribute, segment, sheet_version, scored_at,
         json.dumps(breakdown, ensure_ascii=False)),
    )


def put_history(db: sqlite3.Connection, lead_key: str, at: float, total: int, segment: str, reason: str,
                sheet_version: str = "v1") -> None:
    db.execute(
        "INSERT INTO score_history(lead_key, at, total, segment, reason, sheet_version) VALUES (?, ?, ?, ?, ?, ?)",
        (lead_key, at, total, segment, reason, sheet_version),
    )


def requalified(db: sqlite3.Connection, lead_key: str, after: float, until: float, segments: Sequence[str]) -> bool:
    """Whether the lead's score history has it in one of `segments` in (after, until]."""
    marks = ",".join("?" * len(segments))
    row = db.execute(
        f"SELECT 1 FROM score_history WHERE lead_key = ? AND at > ? AND at <= ? AND segment IN ({marks}) LIMIT 1",
        (lead_key, after, until, *segments),
    ).fetchone()
    return row is not None


def unpushed(db: sqlite3.Connection, connection: str) -> list[tuple[Any, ...]]:
    """Scores `connection` has not acknowledged as they are now, of leads that have a record there:
    (lead_key, email, record_id, total, behavior, attribute, segment, sheet_version, scored_at, fingerprint)."""
    return db.execute(
        f"""
        SELECT s.lead_key, l.email, r.record_id, s.total, s.behavior, s.attribute, s.segment,
               s.sheet_version, s.scored_at, {FINGERPRINT} AS fp
        FROM scores s
        JOIN lead_refs r ON r.lead_key = s.lead_key AND r.connection = ?
        JOIN leads l ON l.key = s.lead_key
        LEFT JOIN pushed_scores p ON p.connection = ? AND p.lead_key = s.lead_key
        WHERE p.fingerprint IS NULL OR p.fingerprint != {FINGERPRINT}
        """,
        (connection, connection),
    ).fetchall()


def record_pushed(db: sqlite3.Connection, connection: str, lead_key: str, fingerprint: str) -> None:
    """`connection` acknowledged the score with this fingerprint."""
    db.execute(
        "INSERT INTO pushed_scores(connection, lead_key, fingerprint, pushed_at) VALUES (?, ?, ?, ?) "
        "ON CONFLICT(connection, lead_key) DO UPDATE SET fingerprint = excluded.fingerprint, "
        "pushed_at = excluded.pushed_at",
        (connection, lead_key, fingerprint, time.time()),
    )

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
    "record_pushed_many",
    "requalified",
    "rescore_targets",
    "totals",
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


def totals(db: sqlite3.Connection) -> list[tuple[str, int, str]]:
    """(lead key, total, segment) of every stored score (benchmarks compare them in bulk)."""
    return [(r[0], r[1], r[2]) for r in db.execute("SELECT lead_key, total, segment FROM scores")]


def rescore_targets(db: sqlite3.Connection, as_of: float) -> list[str]:
    """Leads to rescore: dirty ones, and those whose score changes by itself by `as_of`."""
    rows = db.execute(
        "SELECT key FROM leads WHERE dirty = 1 "
        "UNION SELECT lead_key FROM scores WHERE next_change_at IS NOT NULL AND next_change_at <= ?",
        (as_of,),
    ).fetchall()
    return [r[0] for r in rows]


_UPSERT = (
    "INSERT INTO scores(lead_key, total, behavior, attribute, segment, sheet_version, scored_at, next_change_at, "
    "breakdown) VALUES (?,?,?,?,?,?,?,?,?) ON CONFLICT(lead_key) DO UPDATE SET "
    "total = excluded.total, behavior = excluded.behavior, attribute = excluded.attribute, "
    "segment = excluded.segment, sheet_version = excluded.sheet_version, scored_at = excluded.scored_at, "
    "next_change_at = excluded.next_change_at, breakdown = excluded.breakdown"
)


def write(db: sqlite3.Connection, rows: Sequence[ScoreRow]) -> list[tuple[str, bool]]:
    """Store one chunk of scores: history for changed ones, the scores, dirty flags cleared.

    Returns (lead key, segment moved) of every lead whose total or segment changed. Call inside a
    transaction.
    """
    keys = json.dumps([row[0] for row in rows], ensure_ascii=False)
    before = {r[0]: (r[1], r[2], r[3]) for r in db.execute(
        "SELECT lead_key, total, segment, sheet_version FROM scores WHERE lead_key IN (SELECT value FROM json_each(?))",
        (keys,))}
    changed: list[tuple[str, bool]] = []
    history: list[tuple[Any, ...]] = []
    if not before:  # a first score for every lead of the chunk: each one is a change
        changed = [(row[0], True) for row in rows]
        history = [(r[0], r[6], r[1], r[4], None, None, r[9], r[5]) for r in rows]
    for key, total, _b, _a, segment, version, scored_at, _n, _breakdown, reason in rows if before else ():
        old = before.get(key)
        if old is not None and old[0] == total and old[1] == segment:
            continue
        changed.append((key, old is None or old[1] != segment))
        if old is not None and old[2] != version:
            reason = f"sheet {old[2]} -> {version}"
        history.append((key, scored_at, total, segment, None if old is None else old[0],
                        None if old is None else old[1], reason, version))
    db.executemany(
        "INSERT INTO score_history(lead_key, at, total, segment, previous_total, previous_segment, reason, "
        "sheet_version) VALUES (?,?,?,?,?,?,?,?)", history)
    db.executemany(_UPSERT, [row[:9] for row in rows])
    # By key (the unary + keeps SQLite off the dirty index, which would visit every dirty lead per chunk).
    db.execute("UPDATE leads SET dirty = 0 WHERE key IN (SELECT value FROM json_each(?)) AND +dirty = 1", (keys,))
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


def record_pushed_many(db: sqlite3.Connection, connection: str, pushed: list[tuple[str, str]]) -> None:
    """`record_pushed` for many leads, (lead key, fingerprint) each, in one statement."""
    now = time.time()
    db.executemany(
        "INSERT INTO pushed_scores(connection, lead_key, fingerprint, pushed_at) VALUES (?, ?, ?, ?) "
        "ON CONFLICT(connection, lead_key) DO UPDATE SET fingerprint = excluded.fingerprint, "
        "pushed_at = excluded.pushed_at",
        [(connection, lead_key, fingerprint, now) for lead_key, fingerprint in pushed],
    )

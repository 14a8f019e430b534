"""Scores: the current score of each lead, its history, and what each connection last acknowledged."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from leadsync.core.models import RuleHit, Score, Segment
from leadsync.core.state import leads
from leadsync.core.state.store import from_epoch

__all__ = [
    "FINGERPRINT",
    "Rewrite",
    "clear",
    "digest",
    "forget_pushed",
    "ScoreRow",
    "hot",
    "load",
    "put",
    "put_history",
    "record_pushed",
    "record_pushed_many",
    "requalified",
    "rescore_targets",
    "rewrite",
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
        "SELECT key FROM dirty_leads "
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
# A stored score whose next_change_at stays: its `scores_next_change` entry is left alone (an
# UPDATE naming the column rewrites the entry even when the value is the same: one more random
# page per lead in an incremental run, where most leads keep theirs).
_UPDATE_SAME_NEXT = (
    "UPDATE scores SET total = ?, behavior = ?, attribute = ?, segment = ?, sheet_version = ?, scored_at = ?, "
    "breakdown = ? WHERE lead_key = ?"
)


def write(db: sqlite3.Connection, rows: Sequence[ScoreRow], *, rewrite: Rewrite | None = None
          ) -> tuple[list[str], list[str]]:
    """Store one chunk of scores: history for changed ones, the scores, dirty flags cleared (unless
    inside a `rewrite`, which clears them all at its end).

    Returns the keys of the leads whose total or segment changed, and of those whose segment moved.
    Call inside a transaction.
    """
    keys = json.dumps([row[0] for row in rows], ensure_ascii=False)
    fresh = rewrite is not None and rewrite.fresh
    before = {} if fresh else {r[0]: (r[1], r[2], r[3], r[4]) for r in db.execute(
        "SELECT lead_key, total, segment, sheet_version, next_change_at FROM scores "
        "WHERE lead_key IN (SELECT value FROM json_each(?))", (keys,)).fetchall()}
    history: list[tuple[Any, ...]] = []
    if not before:  # a first score for every lead of the chunk: each one is a change
        changed = [row[0] for row in rows]
        reasons = {row[9] for row in rows}
        if fresh and len(reasons) == 1:  # history copied from the rows just stored, in their order
            last = db.execute("SELECT max(rowid) FROM scores").fetchone()[0] or 0
            db.executemany(_UPSERT, [row[:9] for row in rows])
            db.execute(
                "INSERT INTO score_history(lead_key, at, total, segment, previous_total, previous_segment, reason, "
                "sheet_version) SELECT lead_key, scored_at, total, segment, NULL, NULL, ?, sheet_version FROM scores "
                "WHERE rowid > ? ORDER BY rowid", (reasons.pop(), last))
            return changed, list(changed)
        history = [(r[0], r[6], r[1], r[4], None, None, r[9], r[5]) for r in rows]
        moved = list(changed)
    else:
        changed, moved = [], []
        for key, total, _b, _a, segment, version, scored_at, _n, _breakdown, reason in rows:
            old = before.get(key)
            if old is not None and old[0] == total and old[1] == segment:
                continue
            changed.append(key)
            if old is None or old[1] != segment:
                moved.append(key)
            if old is not None and old[2] != version:
                reason = f"sheet {old[2]} -> {version}"
            history.append((key, scored_at, total, segment, None if old is None else old[0],
                            None if old is None else old[1], reason, version))
    db.executemany(
        "INSERT INTO score_history(lead_key, at, total, segment, previous_total, previous_segment, reason, "
        "sheet_version) VALUES (?,?,?,?,?,?,?,?)", history)
    same_next = {row[0] for row in rows if row[0] in before and before[row[0]][3] == row[7]}
    db.executemany(_UPDATE_SAME_NEXT, [(r[1], r[2], r[3], r[4], r[5], r[6], r[8], r[0]) for r in rows if r[0] in same_next])
    db.executemany(_UPSERT, [row[:9] for row in rows if row[0] not in same_next])
    if rewrite is None:
        leads.clear_dirty(db, [row[0] for row in rows])
    return changed, moved


@dataclass
class Rewrite:
    """A rewrite of every lead's score in one transaction (SQLite): `fresh` when no score was stored."""

    fresh: bool
    dropped: list[str] = field(default_factory=list)  # CREATE INDEX statements to run at the end


# Secondary indexes rebuilt after a rewrite instead of kept up row by row (random inserts into them
# cost more than one sorted build); score history's only when it was empty.
_REBUILT = (("scores_next_change", "scores"), ("score_history_lead", "score_history"))


@contextmanager
def rewrite(db: sqlite3.Connection) -> Iterator[Rewrite]:
    """Rewrite every score inside the caller's transaction: the secondary indexes of tables that
    are rewritten whole are dropped and rebuilt at the end, and every lead's mark for rescoring is
    cleared in one statement (the caller scores every lead inside the same write transaction, so no
    lead is marked meanwhile). SQLite only; a failure rolls the transaction back with the indexes."""
    fresh = db.execute("SELECT NOT EXISTS (SELECT 1 FROM scores)").fetchone()[0] == 1
    history_empty = db.execute("SELECT NOT EXISTS (SELECT 1 FROM score_history)").fetchone()[0] == 1
    state = Rewrite(fresh=fresh)
    for index, table in _REBUILT:
        if table == "score_history" and not history_empty:
            continue
        row = db.execute("SELECT sql FROM sqlite_master WHERE type = 'index' AND name = ?", (index,)).fetchone()
        if row is not None and row[0]:
            state.dropped.append(row[0])
            db.execute(f"DROP INDEX {index}")
    yield state
    leads.clear_dirty(db)
    for statement in state.dropped:
        db.execute(statement)


def digest(db: sqlite3.Connection) -> dict[str, Any]:
    """sha256 of every score row (all columns, by lead) and every history row (by id), and the counts:
    what a change of the scorer must leave bit-identical (benchmarks)."""
    found: dict[str, Any] = {}
    for name, sql in (("scores", "SELECT lead_key, total, behavior, attribute, segment, sheet_version, scored_at, "
                                 "next_change_at, breakdown FROM scores ORDER BY lead_key"),
                      ("history", "SELECT id, lead_key, at, total, segment, previous_total, previous_segment, reason, "
                                  "sheet_version FROM score_history ORDER BY id")):
        hashed, count = hashlib.sha256(), 0
        for row in db.execute(sql):
            hashed.update(repr(tuple(row)).encode())
            count += 1
        found[name] = {"rows": count, "sha256": hashed.hexdigest()}
    return found


def clear(db: sqlite3.Connection) -> None:
    """Forget every score and its history and mark every lead for rescoring, as in a store that was
    never scored (benchmarks start a full rescore over)."""
    db.execute("DELETE FROM scores")
    db.execute("DELETE FROM score_history")
    leads.mark_all_dirty(db)


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


def forget_pushed(db: sqlite3.Connection, connection: str, lead_key: str) -> None:
    """`connection` has a record of the lead that was not there when it last acknowledged the
    lead's score: the score is planned again, for each of the lead's records there."""
    db.execute("DELETE FROM pushed_scores WHERE connection = ? AND lead_key = ?", (connection, lead_key))


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

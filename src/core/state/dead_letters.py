"""Dead letters: records and writes that failed for good, kept until a person re-queues them."""

from __future__ import annotations

import json
import sqlite3
import time
from typing import Any

from leadsync.connectors.redact import redact, redact_data

__all__ = ["acknowledge", "add", "add_once", "open_count", "recent", "unacknowledged"]


def add(
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


def add_once(
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
        add(db, run_id=run_id, connection=connection, kind=kind, key=key, reason=reason, payload=payload)
        return True
    return row[0] == 0


def open_count(db: sqlite3.Connection) -> int:
    """How many dead letters nobody re-queued yet."""
    return int(db.execute("SELECT COUNT(*) FROM dead_letters WHERE requeued_at IS NULL").fetchone()[0])


def recent(db: sqlite3.Connection, limit: int) -> list[dict[str, Any]]:
    """The newest unacknowledged dead letters (without payload), newest first."""
    return [dict(r) for r in db.execute(
        "SELECT id, run_id, connection, kind, record_key, reason, created_at FROM dead_letters "
        "WHERE requeued_at IS NULL ORDER BY id DESC LIMIT ?", (limit,))]


def unacknowledged(db: sqlite3.Connection, ids: tuple[int, ...] | None) -> list[tuple[int, str, str, str | None]]:
    """(id, connection, kind, record key) of unacknowledged dead letters: those of `ids`, or all (None)."""
    query = "SELECT id, connection, kind, record_key FROM dead_letters WHERE requeued_at IS NULL"
    if ids is None:
        return [tuple(r) for r in db.execute(query).fetchall()]  # type: ignore[misc]
    rows = db.execute(query + f" AND id IN ({','.join('?' * len(ids))})", ids).fetchall()
    return [tuple(r) for r in rows]  # type: ignore[misc]


def acknowledge(db: sqlite3.Connection, dead_letter_id: int) -> None:
    """A person re-queued it."""
    db.execute("UPDATE dead_letters SET requeued_at = ? WHERE id = ?", (time.time(), dead_letter_id))

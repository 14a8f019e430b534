"""The outbox: writes recorded before they are sent, so a crash never loses or repeats one."""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import dataclass
from typing import Any

from leadsync.connectors.redact import redact

__all__ = ["OutboxRow", "enqueue", "last_sent", "mark_dead", "mark_done", "mark_retry", "mark_sending", "pending"]


@dataclass(frozen=True)
class OutboxRow:
    id: int
    key: str
    connection: str
    kind: str
    lead_key: str
    payload: dict[str, Any]
    attempts: int


def enqueue(
    db: sqlite3.Connection,
    *,
    key: str,
    connection: str,
    kind: str,
    lead_key: str,
    payload: dict[str, Any],
    run_id: int | None = None,
) -> bool:
    """Record a planned write; False when a row with this idempotency key already exists.

    Call inside the transaction that also records why the write is planned (a handoff, a
    score), so both exist or neither does.
    """
    now = time.time()
    cursor = db.execute(
        "INSERT INTO outbox(key, connection, kind, lead_key, payload, run_id, created_at, updated_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(key) DO NOTHING",
        (key, connection, kind, lead_key, json.dumps(payload, ensure_ascii=False, default=str), run_id, now, now),
    )
    return cursor.rowcount == 1


def pending(db: sqlite3.Connection, connection: str, kind: str, limit: int, after_id: int = 0) -> list[OutboxRow]:
    """The oldest pending rows of one connection and kind, past `after_id`."""
    rows = db.execute(
        "SELECT id, key, connection, kind, lead_key, payload, attempts FROM outbox "
        "WHERE status = 'pending' AND connection = ? AND kind = ? AND id > ? ORDER BY id LIMIT ?",
        (connection, kind, after_id, limit),
    ).fetchall()
    return [OutboxRow(r[0], r[1], r[2], r[3], r[4], json.loads(r[5]), r[6]) for r in rows]


def mark_done(db: sqlite3.Connection, key: str, external_id: str | None) -> None:
    db.execute(
        "UPDATE outbox SET status = 'done', external_id = ?, error = NULL, attempts = attempts + 1, updated_at = ? "
        "WHERE key = ?",
        (external_id, time.time(), key),
    )


def mark_retry(db: sqlite3.Connection, key: str, error: str) -> None:
    db.execute(
        "UPDATE outbox SET attempts = attempts + 1, error = ?, updated_at = ? WHERE key = ?",
        (redact(error), time.time(), key),
    )


def mark_dead(db: sqlite3.Connection, key: str, error: str) -> None:
    db.execute(
        "UPDATE outbox SET status = 'dead', attempts = attempts + 1, error = ?, updated_at = ? WHERE key = ?",
        (redact(error), time.time(), key),
    )


def mark_sending(db: sqlite3.Connection, ids: list[int]) -> None:
    """Note that these rows are about to reach the vendor (committed before the call is made)."""
    db.execute(f"UPDATE outbox SET sent_at = ? WHERE id IN ({','.join('?' * len(ids))})", (time.time(), *ids))


def last_sent(db: sqlite3.Connection, connection: str, kind: str) -> float | None:
    """When a still-pending row of this connection and kind was last handed to the vendor."""
    row = db.execute(
        "SELECT MAX(sent_at) FROM outbox WHERE status = 'pending' AND connection = ? AND kind = ?", (connection, kind)
    ).fetchone()
    return row[0]

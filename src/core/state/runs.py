"""Runs (one row per `sync run`) and the stream cursors a run resumes from."""

from __future__ import annotations

import json
import sqlite3
import time
from typing import Any

__all__ = [
    "clear_cursor",
    "clear_cursors",
    "cursors",
    "finish",
    "get_cursor",
    "last",
    "mark_failed",
    "recent",
    "set_cursor",
    "start",
    "started_before",
]


def start(db: sqlite3.Connection) -> int:
    """Record a new running run; a run still marked running died without finishing (kill -9):
    the caller holds the run lock, so it is marked killed."""
    db.execute("UPDATE runs SET status = 'killed' WHERE status = 'running'")
    cursor = db.execute("INSERT INTO runs(started_at, status) VALUES (?, 'running')", (time.time(),))
    return int(cursor.lastrowid or 0)


def finish(db: sqlite3.Connection, run_id: int | None, status: str, exit_status: int, summary: dict[str, Any]) -> None:
    db.execute(
        "UPDATE runs SET finished_at = ?, status = ?, exit_status = ?, summary = ? WHERE id = ?",
        (time.time(), status, exit_status, json.dumps(summary, ensure_ascii=False), run_id),
    )


def mark_failed(db: sqlite3.Connection, run_id: int) -> None:
    """A run that died is recorded as failed, never left running."""
    db.execute("UPDATE runs SET finished_at = ?, status = 'failed' WHERE id = ? AND status = 'running'",
               (time.time(), run_id))


def recent(db: sqlite3.Connection, limit: int) -> list[dict[str, Any]]:
    """The latest runs, newest first, as dicts of their columns (summary still JSON text)."""
    return [dict(r) for r in db.execute("SELECT * FROM runs ORDER BY id DESC LIMIT ?", (limit,))]


def started_before(db: sqlite3.Connection, run_id: int) -> float | None:
    """When the run before `run_id` started (epoch seconds), or None for the first run."""
    row = db.execute("SELECT started_at FROM runs WHERE id < ? ORDER BY id DESC LIMIT 1", (run_id,)).fetchone()
    return float(row[0]) if row else None


def last(db: sqlite3.Connection) -> tuple[int, str] | None:
    """(id, status) of the latest run, or None."""
    row = db.execute("SELECT id, status FROM runs ORDER BY id DESC LIMIT 1").fetchone()
    return (int(row[0]), str(row[1])) if row else None


def get_cursor(db: sqlite3.Connection, connection: str, stream: str) -> dict[str, Any] | None:
    row = db.execute(
        "SELECT value FROM cursors WHERE connection = ? AND stream = ?", (connection, stream)
    ).fetchone()
    return json.loads(row[0]) if row else None


def set_cursor(db: sqlite3.Connection, connection: str, stream: str, value: dict[str, Any]) -> None:
    db.execute(
        "INSERT INTO cursors(connection, stream, value, updated_at) VALUES (?, ?, ?, ?) "
        "ON CONFLICT(connection, stream) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
        (connection, stream, json.dumps(value, default=str), time.time()),
    )


def clear_cursors(db: sqlite3.Connection, connection: str | None = None) -> None:
    if connection is None:
        db.execute("DELETE FROM cursors")
    else:
        db.execute("DELETE FROM cursors WHERE connection = ?", (connection,))


def clear_cursor(db: sqlite3.Connection, connection: str, stream: str) -> None:
    """Forget one stream's cursor: the next run reads it from the start."""
    db.execute("DELETE FROM cursors WHERE connection = ? AND stream = ?", (connection, stream))


def cursors(db: sqlite3.Connection) -> list[dict[str, Any]]:
    """Every cursor: connection, stream, value (JSON text), updated_at."""
    return [dict(r) for r in db.execute("SELECT connection, stream, value, updated_at FROM cursors ORDER BY 1, 2")]

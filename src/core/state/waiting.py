"""Activities whose lead is not stored yet (known by the lead's record id only), kept until it is.

A vendor can answer an activity before the lead it belongs to: a lead edited after a first sync's
read of leads began is read by the next run, while its older activities come now. Such an activity
waits here and is placed by the run that stores its lead; one whose lead the reads that would
have brought it did not bring becomes a dead letter (`leadsync.core.sync.identity.expire_waiting`).
"""

from __future__ import annotations

import sqlite3

__all__ = ["count", "drop", "forget_read", "keep", "placeable", "unplaced"]


def keep(db: sqlite3.Connection, rows: list[tuple[str, str, str, str, str, float, int | None]]) -> None:
    """Keep (connection, source id, lead record id, stream, activity JSON, now, run id) rows. A row
    already waiting takes the newer read and keeps when, and by which run, it was first kept."""
    db.executemany(
        "INSERT INTO waiting_activities(connection, source_id, lead_record_id, stream, data, seen_at, run_id) "
        "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(connection, source_id) DO UPDATE SET "
        "lead_record_id = excluded.lead_record_id, stream = excluded.stream, data = excluded.data",
        rows,
    )


def placeable(db: sqlite3.Connection) -> list[tuple[str, str, str, str]]:
    """(connection, source id, lead key, activity JSON) of waiting activities whose lead is stored now."""
    return [(r[0], r[1], r[2], r[3]) for r in db.execute(
        "SELECT w.connection, w.source_id, r.lead_key, w.data FROM waiting_activities w "
        "JOIN lead_refs r ON r.connection = w.connection AND r.record_id = w.lead_record_id "
        "ORDER BY w.connection, w.source_id")]


def unplaced(db: sqlite3.Connection, connection: str, before_run: int, kept_before: float) -> list[tuple[str, str, str, str]]:
    """(source id, lead record id, stream, activity JSON) of the connection's waiting activities
    first kept by a run before `before_run`, and before `kept_before`, whose lead is still not stored."""
    return [(r[0], r[1], r[2], r[3]) for r in db.execute(
        "SELECT source_id, lead_record_id, stream, data FROM waiting_activities w "
        "WHERE connection = ? AND run_id < ? AND seen_at < ? AND NOT EXISTS (SELECT 1 FROM lead_refs r "
        "WHERE r.connection = w.connection AND r.record_id = w.lead_record_id) ORDER BY source_id",
        (connection, before_run, kept_before))]


def drop(db: sqlite3.Connection, keys: list[tuple[str, str]]) -> None:
    """Forget the waiting activities of these (connection, source id) keys."""
    db.executemany("DELETE FROM waiting_activities WHERE connection = ? AND source_id = ?", keys)


def forget_read(db: sqlite3.Connection, connection: str, source_ids: list[str]) -> None:
    """Forget the waiting copies of these activities of a connection: a later read placed them."""
    if source_ids and db.execute("SELECT 1 FROM waiting_activities WHERE connection = ? LIMIT 1",
                                 (connection,)).fetchone() is not None:  # one indexed look-up when nothing waits
        drop(db, [(connection, source_id) for source_id in source_ids])


def count(db: sqlite3.Connection) -> int:
    return int(db.execute("SELECT COUNT(*) FROM waiting_activities").fetchone()[0])

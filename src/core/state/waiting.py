"""Records whose lead is not stored yet (known by the lead's record id only), kept until it is.

A vendor can answer an activity or an opportunity (a deal) before the lead it belongs to: a lead
edited after a first sync's read of leads began is read by the next run, while its older
activities and deals come now. Such a record waits here, in the table of its kind, and is placed
by the run that stores its lead; one whose lead the reads that would have brought it did not
bring becomes a dead letter (`leadsync.core.sync.latecomers.expire_waiting`).
"""

from __future__ import annotations

import sqlite3

__all__ = ["KINDS", "count", "drop", "forget_read", "keep", "placeable", "removed_lead", "unplaced"]

_TABLES = {"activity": "waiting_activities", "opportunity": "waiting_opportunities"}
KINDS = tuple(_TABLES)


def _table(kind: str) -> str:
    try:
        return _TABLES[kind]
    except KeyError:
        raise ValueError(f"unknown kind of waiting record {kind!r} ({', '.join(KINDS)})") from None


def keep(db: sqlite3.Connection, rows: list[tuple[str, str, str, str, str, float, int | None]],
         kind: str = "activity") -> None:
    """Keep (connection, source id, lead record id, stream, record JSON, now, run id) rows. A row
    already waiting takes the newer read and keeps when, and by which run, it was first kept, unless
    the read names another lead: that lead's wait starts with this read (it may lag this read, not
    the first one)."""
    table = _table(kind)
    moved = f"{table}.lead_record_id <> excluded.lead_record_id"
    db.executemany(
        f"INSERT INTO {table}(connection, source_id, lead_record_id, stream, data, seen_at, run_id) "
        "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(connection, source_id) DO UPDATE SET "
        "lead_record_id = excluded.lead_record_id, stream = excluded.stream, data = excluded.data, "
        f"seen_at = CASE WHEN {moved} THEN excluded.seen_at ELSE {table}.seen_at END, "
        f"run_id = CASE WHEN {moved} THEN excluded.run_id ELSE {table}.run_id END",
        rows,
    )


def placeable(db: sqlite3.Connection, kind: str = "activity") -> list[tuple[str, str, str, str]]:
    """(connection, source id, lead key, record JSON) of waiting records whose lead is stored now."""
    return [(r[0], r[1], r[2], r[3]) for r in db.execute(
        f"SELECT w.connection, w.source_id, r.lead_key, w.data FROM {_table(kind)} w "
        "JOIN lead_refs r ON r.connection = w.connection AND r.record_id = w.lead_record_id "
        "ORDER BY w.connection, w.source_id")]


def unplaced(db: sqlite3.Connection, connection: str, before_run: int, kept_before: float,
             kind: str = "activity") -> list[tuple[str, str, str, str]]:
    """(source id, lead record id, stream, record JSON) of the connection's waiting records
    first kept by a run before `before_run`, and before `kept_before`, whose lead is still not stored."""
    return [(r[0], r[1], r[2], r[3]) for r in db.execute(
        f"SELECT source_id, lead_record_id, stream, data FROM {_table(kind)} w "
        "WHERE connection = ? AND run_id < ? AND seen_at < ? AND NOT EXISTS (SELECT 1 FROM lead_refs r "
        "WHERE r.connection = w.connection AND r.record_id = w.lead_record_id) ORDER BY source_id",
        (connection, before_run, kept_before))]


def drop(db: sqlite3.Connection, keys: list[tuple[str, str]], kind: str = "activity") -> None:
    """Forget the waiting records of these (connection, source id) keys."""
    db.executemany(f"DELETE FROM {_table(kind)} WHERE connection = ? AND source_id = ?", keys)


def forget_read(db: sqlite3.Connection, connection: str, source_ids: list[str], kind: str = "activity") -> None:
    """Forget the waiting copies of these records of a connection: a later read placed them."""
    if source_ids and db.execute(f"SELECT 1 FROM {_table(kind)} WHERE connection = ? LIMIT 1",
                                 (connection,)).fetchone() is not None:  # one indexed look-up when nothing waits
        drop(db, [(connection, source_id) for source_id in source_ids], kind)


def removed_lead(db: sqlite3.Connection, connection: str, record_id: str, merged_into: str | None) -> None:
    """The vendor removed this lead record: what waits for it waits for the record it was merged
    into, or, deleted, is forgotten (its lead will never come: no dead letter for it)."""
    for table in _TABLES.values():
        if merged_into:
            db.execute(f"UPDATE {table} SET lead_record_id = ? WHERE connection = ? AND lead_record_id = ?",
                       (merged_into, connection, record_id))
        else:
            db.execute(f"DELETE FROM {table} WHERE connection = ? AND lead_record_id = ?", (connection, record_id))


def count(db: sqlite3.Connection, kind: str = "activity") -> int:
    return int(db.execute(f"SELECT COUNT(*) FROM {_table(kind)}").fetchone()[0])

"""A PostgreSQL project copied into an in-memory SQLite store (dry runs and previews)."""

from __future__ import annotations

from typing import Any

from leadsync.core.state.store import StateStore

__all__ = ["copy_into_sqlite"]


def copy_into_sqlite(source: Any) -> StateStore:
    """Every table of `source` (a PgStateStore), read in one repeatable-read transaction so the
    copy is consistent while a run writes, into a fresh in-memory StateStore."""
    copy = StateStore(":memory:")
    tables = [r[0] for r in copy.db.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")]
    db = source.db
    db.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
    try:
        with copy.transaction() as target:
            for table in tables:
                columns = [r[1] for r in target.execute(f"PRAGMA table_info({table})")]
                names = ", ".join(columns)
                order = " ORDER BY rowid" if table in ("leads", "activities") else ""
                marks = ", ".join("?" * len(columns))
                cursor = db.execute(f"SELECT {names} FROM {table}{order}", ())
                while rows := cursor.fetchmany(5000):
                    target.executemany(f"INSERT INTO {table}({names}) VALUES ({marks})", rows)
    finally:
        db.execute("COMMIT")
    return copy

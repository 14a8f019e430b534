"""The state store: one embedded SQLite file (WAL) holding everything a run must remember."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from leadsync.core.errors import ConfigError
from leadsync.core.state.migrations import MIGRATIONS

__all__ = ["StateStore", "from_epoch", "to_epoch"]


def to_epoch(value: datetime) -> float:
    return value.timestamp()


def from_epoch(value: float | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value, tz=timezone.utc)


class StateStore:
    """A connection to the state database with the schema migrated to the latest version.

    Use :meth:`transaction` for every write: a block either commits whole or not at all, which is
    what makes a page of records and its cursor, or an outbox row and its handoff, atomic.
    """

    def __init__(self, path: str | Path, *, readonly: bool = False) -> None:
        self.path = Path(path) if str(path) != ":memory:" else None
        if self.path is not None and not readonly:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        target = str(path)
        if readonly and self.path is not None:
            if not self.path.exists():
                raise ConfigError(f"{self.path}: no state store yet (run `leadsync sync run` first)")
            target = f"file:{self.path}?mode=ro"
        self.db = sqlite3.connect(target, uri=readonly, isolation_level=None, check_same_thread=False)
        self.db.row_factory = sqlite3.Row
        if self.path is not None and not readonly:
            self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.execute("PRAGMA foreign_keys=ON")
        self.db.execute("PRAGMA busy_timeout=5000")
        if not readonly:
            self.migrate()

    # --- schema ----------------------------------------------------------------------------
    @property
    def schema_version(self) -> int:
        return int(self.db.execute("PRAGMA user_version").fetchone()[0])

    def migrate(self) -> None:
        version = self.schema_version
        if version > len(MIGRATIONS):
            raise ConfigError(
                f"{self.path}: state store schema {version} is newer than this leadsync ({len(MIGRATIONS)})"
            )
        for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
            with self.transaction():
                for statement in script.split(";\n"):
                    if statement.strip():
                        self.db.execute(statement)
                self.db.execute(f"PRAGMA user_version = {number}")

    def integrity_problems(self, *, thorough: bool = False) -> list[str]:
        """What is wrong with the database: SQLite's quick_check (integrity_check when `thorough`)
        and a schema newer than this leadsync. An empty list means usable."""
        problems: list[str] = []
        version = self.schema_version
        if version > len(MIGRATIONS):
            problems.append(f"schema version {version} is newer than this leadsync ({len(MIGRATIONS)}): upgrade leadsync")
        pragma = "integrity_check" if thorough else "quick_check"
        try:
            rows = [str(row[0]) for row in self.db.execute(f"PRAGMA {pragma}")]
        except sqlite3.DatabaseError as exc:
            return problems + [f"{pragma} failed: {exc}"]
        problems += [row for row in rows if row != "ok"]
        return problems

    # --- transactions ----------------------------------------------------------------------
    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE ... COMMIT, rolled back on any exception. Nested calls join the outer."""
        if self.db.in_transaction:
            yield self.db
            return
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        else:
            self.db.execute("COMMIT")

    def snapshot(self) -> StateStore:
        """An in-memory copy, for dry runs and previews that must change nothing on disk."""
        copy = StateStore(":memory:")
        copy.db.execute("PRAGMA user_version = 0")
        self.db.backup(copy.db)
        copy.migrate()
        return copy

    def close(self) -> None:
        self.db.close()

    # --- small helpers ---------------------------------------------------------------------
    def kv_get(self, key: str, default: Any = None) -> Any:
        row = self.db.execute("SELECT value FROM kv WHERE key = ?", (key,)).fetchone()
        return json.loads(row[0]) if row else default

    def kv_set(self, key: str, value: Any) -> None:
        self.db.execute(
            "INSERT INTO kv(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (key, json.dumps(value)),
        )

    def get_cursor(self, connection: str, stream: str) -> dict[str, Any] | None:
        row = self.db.execute(
            "SELECT value FROM cursors WHERE connection = ? AND stream = ?", (connection, stream)
        ).fetchone()
        return json.loads(row[0]) if row else None

    def set_cursor(self, connection: str, stream: str, value: dict[str, Any]) -> None:
        self.db.execute(
            "INSERT INTO cursors(connection, stream, value, updated_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT(connection, stream) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
            (connection, stream, json.dumps(value, default=str), time.time()),
        )

    def clear_cursors(self, connection: str | None = None) -> None:
        if connection is None:
            self.db.execute("DELETE FROM cursors")
        else:
            self.db.execute("DELETE FROM cursors WHERE connection = ?", (connection,))

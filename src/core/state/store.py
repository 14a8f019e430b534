"""The state store: one embedded SQLite file (WAL) holding everything a run must remember."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from leadsync.core.errors import ConfigError, StateStoreError
from leadsync.core.state import kv, runs
from leadsync.core.state.migrations import MIGRATIONS

__all__ = ["READONLY_ENV", "StateStore", "connect_readonly", "from_epoch", "store_error", "to_epoch"]

READONLY_ENV = "LEADSYNC_STATE_READONLY"


def to_epoch(value: datetime) -> float:
    return value.timestamp()


def from_epoch(value: float | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value, tz=timezone.utc)


# SQLite primary result codes that mean the store itself cannot be used (https://sqlite.org/rescode.html).
_PERM, _BUSY, _LOCKED, _READONLY, _IOERR, _CORRUPT, _FULL, _CANTOPEN, _NOTADB = 3, 5, 6, 8, 10, 11, 13, 14, 26
_WHAT_TO_DO = {
    _FULL: "the disk is full (or the store reached its size limit); nothing of the step was written. "
           "Free some space and run again",
    _READONLY: "the state store is read-only; nothing was written. Make the file and its folder writable, "
               "or use only read-only commands (sync status, handoff preview, score explain, report)",
    _CORRUPT: "the state store is damaged. Restore it from a backup (docs/operations.md), or move it aside "
              "and run `leadsync sync run --full-refresh` to rebuild it",
    _NOTADB: "this file is not a leadsync state store (not an SQLite database). Check [state] path, restore "
             "the file from a backup (docs/operations.md), or move it aside to start afresh",
    _IOERR: "the disk reported an I/O error; nothing of the step was written. Check the disk and run again",
    _CANTOPEN: "cannot open the state store. Check that the path exists and its folder can be read and written",
    _PERM: "permission denied. Check the owner and mode of the file and its folder",
    _BUSY: "the state store is busy (another program holds a lock on it). Try again when it has finished",
    _LOCKED: "the state store is busy (another program holds a lock on it). Try again when it has finished",
}


def store_error(path: Path | str | None, exc: sqlite3.Error) -> StateStoreError | None:
    """The one-line StateStoreError for an SQLite error that means the store is unusable, else None."""
    code = getattr(exc, "sqlite_errorcode", None)
    if code is None:
        return None
    advice = _WHAT_TO_DO.get(code & 0xFF)
    if advice is None:
        return None
    return StateStoreError(f"{path or ':memory:'}: {advice} ({exc})")


class _Cursor(sqlite3.Cursor):
    """A cursor whose store-level failures (disk full, read-only, damaged) are StateStoreErrors."""

    path: Path | str | None = None

    def _fail(self, exc: sqlite3.Error) -> BaseException:
        return store_error(self.connection.path, exc) or exc  # type: ignore[attr-defined]

    def execute(self, *args: Any, **kwargs: Any) -> _Cursor:  # type: ignore[override]
        try:
            return super().execute(*args, **kwargs)
        except sqlite3.Error as exc:
            raise self._fail(exc) from exc

    def executemany(self, *args: Any, **kwargs: Any) -> _Cursor:  # type: ignore[override]
        try:
            return super().executemany(*args, **kwargs)
        except sqlite3.Error as exc:
            raise self._fail(exc) from exc

    def fetchone(self) -> Any:
        try:
            return super().fetchone()
        except sqlite3.Error as exc:
            raise self._fail(exc) from exc

    def fetchmany(self, *args: Any, **kwargs: Any) -> list[Any]:
        try:
            return super().fetchmany(*args, **kwargs)
        except sqlite3.Error as exc:
            raise self._fail(exc) from exc

    def fetchall(self) -> list[Any]:
        try:
            return super().fetchall()
        except sqlite3.Error as exc:
            raise self._fail(exc) from exc

    def __next__(self) -> Any:
        try:
            return super().__next__()
        except sqlite3.Error as exc:
            raise self._fail(exc) from exc


class _Connection(sqlite3.Connection):
    """A connection whose statements run on `_Cursor`s, so every caller gets StateStoreErrors."""

    dialect = "sqlite"

    path: Path | str | None = None

    def execute(self, *args: Any, **kwargs: Any) -> _Cursor:  # type: ignore[override]
        return self.cursor(_Cursor).execute(*args, **kwargs)

    def executemany(self, *args: Any, **kwargs: Any) -> _Cursor:  # type: ignore[override]
        return self.cursor(_Cursor).executemany(*args, **kwargs)


class StoreHelpers:
    """The small kv and cursor operations both backends' stores offer on their `db`."""

    db: Any

    def kv_get(self, key: str, default: Any = None) -> Any:
        return kv.get(self.db, key, default)

    def kv_set(self, key: str, value: Any) -> None:
        kv.put(self.db, key, value)

    def get_cursor(self, connection: str, stream: str) -> dict[str, Any] | None:
        return runs.get_cursor(self.db, connection, stream)

    def set_cursor(self, connection: str, stream: str, value: dict[str, Any]) -> None:
        runs.set_cursor(self.db, connection, stream, value)

    def clear_cursors(self, connection: str | None = None) -> None:
        runs.clear_cursors(self.db, connection)


class StateStore(StoreHelpers):
    """A connection to the state database with the schema migrated to the latest version.

    Use :meth:`transaction` for every write: a block either commits whole or not at all, which is
    what makes a page of records and its cursor, or an outbox row and its handoff, atomic.

    An SQLite failure that makes the store unusable (disk full, read-only file or mount, damaged
    file, not a database, newer schema) is raised as a one-line `StateStoreError` (exit 5) naming
    the file and what to do; the transaction it hit is rolled back. `readonly=True` never writes
    and works on a read-only file or mount. ``LEADSYNC_STATE_READONLY=1`` opens every store
    read-only, as a read-only mount would (for audits, and for tests that run as root, where file
    modes do not stop writes).
    """

    dialect = "sqlite"

    def __init__(self, path: str | Path, *, readonly: bool = False) -> None:
        self.path = Path(path) if str(path) != ":memory:" else None
        self.readonly = readonly
        forced = os.environ.get(READONLY_ENV, "") not in ("", "0") and self.path is not None
        if self.path is not None and not readonly and not forced:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StateStoreError(f"{self.path}: cannot create its folder ({exc.strerror}); "
                                      "check [state] path and the folder's permissions") from None
        if readonly and self.path is not None and not self.path.exists():
            raise ConfigError(f"{self.path}: no state store yet (run `leadsync sync run` first)")
        try:
            self.db = self._connect(str(path), readonly=readonly or forced)
            self.db.row_factory = sqlite3.Row
            if self.path is not None and not (readonly or forced):
                self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            self.db.execute("PRAGMA foreign_keys=ON")
            self.db.execute("PRAGMA busy_timeout=5000")
            self._check_version()
            if not readonly:
                self.migrate()
        except sqlite3.Error as exc:
            raise (store_error(self.path, exc) or exc) from None

    def _connect(self, target: str, *, readonly: bool) -> _Connection:
        if not readonly or self.path is None:
            db = sqlite3.connect(target, isolation_level=None, check_same_thread=False, factory=_Connection)
        else:
            uri = self.path.absolute().as_uri()
            db = sqlite3.connect(f"{uri}?mode=ro", uri=True, isolation_level=None, check_same_thread=False,
                                 factory=_Connection)
            try:
                db.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
            except StateStoreError:
                # A WAL database on a read-only mount cannot create its -shm file: nobody can be
                # writing it there, so read it as immutable.
                db.close()
                db = sqlite3.connect(f"{uri}?immutable=1", uri=True, isolation_level=None,
                                     check_same_thread=False, factory=_Connection)
        db.path = self.path or ":memory:"
        return db

    # --- schema ----------------------------------------------------------------------------
    @property
    def schema_version(self) -> int:
        return int(self.db.execute("PRAGMA user_version").fetchone()[0])

    def _check_version(self) -> None:
        version = self.schema_version
        if version > len(MIGRATIONS):
            raise StateStoreError(
                f"{self.path}: the state store has schema {version}, newer than this leadsync knows "
                f"({len(MIGRATIONS)}); upgrade leadsync, or restore a backup made with this version (docs/operations.md)"
            )

    def migrate(self) -> None:
        self._check_version()
        version = self.schema_version
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
        """BEGIN IMMEDIATE ... COMMIT, rolled back on any exception. Nested calls join the outer.

        A commit that fails (disk full) leaves nothing of the block written.
        """
        if self.db.in_transaction:
            yield self.db
            return
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
            self.db.execute("COMMIT")
        except BaseException:
            if self.db.in_transaction:  # SQLite may already have rolled back (disk full, I/O error)
                with suppress(sqlite3.Error, StateStoreError):
                    self.db.execute("ROLLBACK")
            raise

    def rollback(self) -> None:
        """Abandon an open transaction (a run that dies mid-step), if there is one."""
        if self.db.in_transaction:
            self.db.execute("ROLLBACK")

    def snapshot(self) -> StateStore:
        """An in-memory copy, for dry runs and previews that must change nothing on disk."""
        copy = StateStore(":memory:")
        copy.db.execute("PRAGMA user_version = 0")
        try:
            self.db.backup(copy.db)
        except sqlite3.Error as exc:
            raise (store_error(self.path, exc) or exc) from None
        copy.migrate()
        return copy

    def close(self) -> None:
        self.db.close()


def connect_readonly(path: Path | str) -> sqlite3.Connection:
    """A plain read-only connection to a store file (for a child process that scans in parallel)."""
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True)

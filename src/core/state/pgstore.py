"""The state store on PostgreSQL: one schema per project in a shared database.

Same operations, transactions and guarantees as the SQLite store (store.py): the group modules
run unchanged on `PgStateStore.db` (a `PgConnection`). A write transaction also takes the
project's write lock (a transaction-level advisory lock), so writers of one project are serialised
as SQLite's BEGIN IMMEDIATE serialises them, while readers never wait (MVCC).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Any

from leadsync.core.errors import ConfigError, StateStoreError
from leadsync.core.state.pg import PgConnection, connect
from leadsync.core.state.pg_migrations import PG_MIGRATIONS
from leadsync.core.state.store import StoreHelpers
from leadsync.core.state.target import StateTarget

__all__ = ["PgStateStore", "WRITE_LOCK", "RUN_LOCK"]

# The two advisory-lock namespaces (first key of pg_advisory_lock(int, int)); the second key is
# hashtext(schema name).
RUN_LOCK = 0x1EAD5
WRITE_LOCK = 0x1EAD6


class PgStateStore(StoreHelpers):
    """A session on the project's schema, migrated to the latest version (unless `readonly`)."""

    dialect = "postgresql"

    def __init__(self, target: StateTarget, *, readonly: bool = False, lock: Any = None) -> None:
        assert target.url is not None
        self.target = target
        self.lock = lock  # the run's AdvisoryRunLock: checked before each write transaction
        self.schema = target.schema
        self.path = target.describe()  # what messages name; not None: this store is not a copy
        self.readonly = readonly or os.environ.get("LEADSYNC_STATE_READONLY", "") not in ("", "0")
        self.db: PgConnection = connect(target.url, password=target.password, schema=self.schema,
                                        application=f"leadsync {target.project} pid {os.getpid()}",
                                        readonly=self.readonly, where=self.path)
        try:
            exists = self._schema_exists()
            if not exists and (readonly or self.readonly):
                raise ConfigError(f"{self.path}: no state store yet (run `leadsync sync run` first)")
            self._check_version()
            if not readonly:
                self.migrate()
        except BaseException:
            self.db.close()
            raise

    def _schema_exists(self) -> bool:
        row = self.db.execute("SELECT 1 FROM pg_namespace WHERE nspname = ?", (self.schema,)).fetchone()
        return row is not None

    # --- schema ----------------------------------------------------------------------------
    @property
    def schema_version(self) -> int:
        row = self.db.execute(
            "SELECT 1 FROM pg_tables WHERE schemaname = ? AND tablename = 'schema_version'", (self.schema,)
        ).fetchone()
        if row is None:
            return 0
        row = self.db.execute("SELECT MAX(version) FROM schema_version").fetchone()
        return int(row[0] or 0)

    def _check_version(self) -> None:
        version = self.schema_version
        if version > len(PG_MIGRATIONS):
            raise StateStoreError(
                f"{self.path}: the state store has schema {version}, newer than this leadsync knows "
                f"({len(PG_MIGRATIONS)}); upgrade leadsync, or restore a backup made with this version (docs/operations.md)"
            )

    def migrate(self) -> None:
        """Create the project's schema if needed and apply the missing migrations, each in one
        transaction under the project's write lock (two processes never migrate at once). A
        store already at the latest version is not written to (it may be read-only)."""
        if self.schema_version == len(PG_MIGRATIONS):
            return
        with self.transaction():
            self.db.execute(f'CREATE SCHEMA IF NOT EXISTS "{self.schema}"')
            self.db.execute("CREATE TABLE IF NOT EXISTS schema_version (version BIGINT NOT NULL)")
        self._check_version()
        version = self.schema_version
        for number, script in enumerate(PG_MIGRATIONS[version:], start=version + 1):
            with self.transaction():
                if self.schema_version >= number:  # another process got there first
                    continue
                for statement in script.split(";\n"):
                    if statement.strip():
                        self.db.guard(self.db.raw.execute, statement)
                self.db.execute("INSERT INTO schema_version(version) VALUES (?)", (number,))

    def integrity_problems(self, *, thorough: bool = False) -> list[str]:
        """What is wrong: a schema newer than this leadsync, or missing migrations. Empty: usable.
        (PostgreSQL checks its own pages; `thorough` changes nothing here.)"""
        version = self.schema_version
        if version > len(PG_MIGRATIONS):
            return [f"schema version {version} is newer than this leadsync ({len(PG_MIGRATIONS)}): upgrade leadsync"]
        if version < len(PG_MIGRATIONS):
            return [f"schema version {version} is older than this leadsync ({len(PG_MIGRATIONS)}): "
                    "the next `leadsync sync run` migrates it"]
        return []

    # --- transactions ----------------------------------------------------------------------
    @contextmanager
    def transaction(self) -> Iterator[PgConnection]:
        """BEGIN ... COMMIT under the project's write lock, rolled back on any exception.
        Nested calls join the outer."""
        if self.db.in_transaction:
            yield self.db
            return
        if self.lock is not None:
            self.lock.check()
        self.db.execute("BEGIN")
        try:
            if not self.readonly:
                self.db.execute("SELECT pg_advisory_xact_lock(?, hashtext(?))", (WRITE_LOCK, self.schema))
            yield self.db
            self.db.execute("COMMIT")
        except BaseException:
            if self.db.in_transaction:
                with suppress(Exception):
                    self.db.raw.execute("ROLLBACK")
            raise

    def rollback(self) -> None:
        """Abandon an open transaction (a run that dies mid-step), if there is one."""
        if self.db.in_transaction:
            self.db.execute("ROLLBACK")

    def snapshot(self) -> Any:
        """An in-memory SQLite copy, for dry runs and previews that must change nothing here."""
        from leadsync.core.state.copy import copy_into_sqlite

        return copy_into_sqlite(self)

    def close(self) -> None:
        self.db.close()

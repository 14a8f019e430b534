"""The state backends the tests run against: SQLite always, PostgreSQL when a server is there.

`.ci/run` starts a throw-away PostgreSQL server and exports LEADSYNC_TEST_PG_URL; without it (or
when the server does not answer) the PostgreSQL cases skip and say why. Each PostgreSQL case gets
a project (schema) of its own, dropped afterwards, so tests never see each other's rows.

Use `state_backend` (SQLite unless parametrized: `@pytest.mark.parametrize("state_backend",
BACKENDS, indirect=True)`), or `new_store`, which is parametrized over both.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

PG_URL_ENV = "LEADSYNC_TEST_PG_URL"
BACKENDS = ["sqlite", "postgresql"]


def _pg_url() -> str:
    url = os.environ.get(PG_URL_ENV)
    if not url:
        pytest.skip(f"{PG_URL_ENV} is not set: no PostgreSQL server for the tests (.ci/run starts one)")
    try:
        import psycopg
    except ImportError:
        pytest.skip("psycopg is not installed (pip install -e '.[test]')")
    try:
        psycopg.connect(url, connect_timeout=3).close()
    except psycopg.Error as exc:
        pytest.skip(f"{PG_URL_ENV}: the PostgreSQL server does not answer ({' '.join(str(exc).split())[:200]})")
    return url


@dataclass
class Backend:
    """One state backend for a test: where stores live and how a run is pointed at them."""

    name: str
    tmp_path: Path
    url: str | None = None
    projects: list[str] = field(default_factory=list)

    @property
    def is_postgres(self) -> bool:
        return self.url is not None

    def project(self, label: str = "p") -> str:
        """A new project name of this test's own (PostgreSQL), dropped at the end."""
        name = f"t{uuid.uuid4().hex[:10]}_{label}"[:40]
        self.projects.append(name)
        return name

    def env(self, project: str) -> dict[str, str]:
        """Environment that points a `leadsync` child process at `project`."""
        if self.url is None:
            return {}
        return {"LEADSYNC_STATE__URL": self.url, "LEADSYNC_STATE__PROJECT": project}

    def toml(self, project: str) -> str:
        """The `[state]` lines for a leadsync.toml (SQLite: a file beside it)."""
        if self.url is None:
            return '[state]\npath = "state/state.db"\n'
        return f'[state]\nurl = "{self.url}"\nproject = "{project}"\n'

    def target(self, project: str, path: Path | None = None) -> Any:
        from leadsync.core.state.target import StateTarget

        return StateTarget(path=path or self.tmp_path / project / "state.db", url=self.url, project=project)

    def open(self, project: str, path: Path | None = None, *, readonly: bool = False) -> Any:
        from leadsync.core.state.target import open_store

        return open_store(self.target(project, path), readonly=readonly)

    def forget(self, project: str, path: Path | None = None) -> None:
        """Lose the project's whole state (the file and its WAL, or the schema)."""
        if self.url is None:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
            return
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as db:
            db.execute(f'DROP SCHEMA IF EXISTS "leadsync_{project}" CASCADE')

    def old_pg_schema(self, project: str, version: int) -> Any:
        """A psycopg connection (autocommit, on the project's schema) to a PostgreSQL store left at
        schema `version`, as an older leadsync wrote it: fill it, close it, then `open` migrates it."""
        import psycopg

        from leadsync.core.state.pg_migrations import PG_MIGRATIONS

        schema = f"leadsync_{project}"
        db = psycopg.connect(self.url, autocommit=True, options=f"-c search_path={schema}")
        db.execute(f'CREATE SCHEMA "{schema}"')
        db.execute("CREATE TABLE schema_version (version BIGINT NOT NULL)")
        for number, script in enumerate(PG_MIGRATIONS[:version], start=1):
            for statement in script.split(";\n"):
                if statement.strip():
                    db.execute(statement)
            db.execute("INSERT INTO schema_version VALUES (%s)", (number,))
        return db

    def cleanup(self) -> None:
        for project in self.projects:
            if self.url is not None:
                self.forget(project)


@pytest.fixture
def old_sqlite_schema():
    """`(path, version) -> sqlite3.Connection`: a SQLite store left at schema `version`, as an older
    leadsync wrote it (autocommit): fill it, close it, then opening a StateStore migrates it."""
    import sqlite3

    from leadsync.core.state.migrations import MIGRATIONS

    def make(path: Path, version: int) -> sqlite3.Connection:
        db = sqlite3.connect(path, isolation_level=None)
        for number, script in enumerate(MIGRATIONS[:version], start=1):
            for statement in script.split(";\n"):
                if statement.strip():
                    db.execute(statement)
            db.execute(f"PRAGMA user_version = {number}")
        return db

    return make


@pytest.fixture
def state_backend(request, tmp_path):
    name = getattr(request, "param", "sqlite")
    backend = Backend(name, tmp_path, url=_pg_url() if name == "postgresql" else None)
    yield backend
    backend.cleanup()


@pytest.fixture(params=BACKENDS)
def new_store(request, tmp_path):
    """A factory of fresh, empty, migrated stores on each backend (SQLite: in memory)."""
    backend = Backend(request.param, tmp_path, url=_pg_url() if request.param == "postgresql" else None)
    opened: list[Any] = []

    def factory() -> Any:
        if backend.url is None:
            from leadsync.core.state.store import StateStore

            store = StateStore(":memory:")
        else:
            store = backend.open(backend.project())
        opened.append(store)
        return store

    factory.backend = backend  # type: ignore[attr-defined]
    yield factory
    for store in opened:
        store.close()
    backend.cleanup()

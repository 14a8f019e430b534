"""Where the state lives: an SQLite file (the default) or a project's schema in PostgreSQL.

`[state] url = "postgresql://..."` selects PostgreSQL; `[state] project` names the project (its
schema is `leadsync_<project>`); without it the project is derived from the config file's path.
The password comes from the URL, libpq's own sources (PGPASSWORD, ~/.pgpass) or
`[state] password_file`, and is never part of what `describe()` returns.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from leadsync.core.errors import ConfigError

__all__ = ["StateTarget", "default_project", "from_settings", "open_store", "project_name", "schema_of"]

_PROJECT = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
SCHEMA_PREFIX = "leadsync_"


def project_name(value: str) -> str:
    """A project name as given in `[state] project`, checked: lower-case letters, digits, `_`."""
    if not _PROJECT.match(value):
        raise ConfigError(f"[state] project = {value!r}: use 1 to 40 lower-case letters, digits or _ "
                          "starting with a letter (it names a PostgreSQL schema)")
    return value


def default_project(config_path: Path | None) -> str:
    """The project of a config file that names none: its folder's name made an identifier, and a
    short hash of the file's absolute path, so two folders of the same name never share one."""
    if config_path is None:
        return "default"
    absolute = config_path.expanduser().resolve()
    folder = unicodedata.normalize("NFKD", absolute.parent.name).encode("ascii", "ignore").decode().lower()
    slug = re.sub(r"[^a-z0-9]+", "_", folder).strip("_")[:24] or "project"
    if not slug[0].isalpha():
        slug = "p_" + slug
    digest = hashlib.sha256(str(absolute).encode()).hexdigest()[:8]
    return f"{slug}_{digest}"


def schema_of(project: str) -> str:
    return SCHEMA_PREFIX + project


@dataclass(frozen=True)
class StateTarget:
    """The state store a configuration points at."""

    path: Path
    url: str | None = None
    project: str = "default"
    password: str | None = field(default=None, repr=False)

    @property
    def is_postgres(self) -> bool:
        return self.url is not None

    @property
    def schema(self) -> str:
        return schema_of(self.project)

    def describe(self) -> str:
        """What messages name: the file, or the URL without its password and the project."""
        if self.url is None:
            return str(self.path)
        from leadsync.core.state.pg import redact

        return f"{redact(self.url, self.password)} (project {self.project})"

    def exists(self) -> bool:
        """Whether a store is there already (a preview of a project never run reads nothing)."""
        if self.url is None:
            return self.path.exists()
        from leadsync.core.state.pg import connect

        db = connect(self.url, password=self.password, schema=None, application="leadsync check",
                     where=self.describe())
        try:
            return db.execute("SELECT 1 FROM pg_namespace WHERE nspname = ?", (self.schema,)).fetchone() is not None
        finally:
            db.close()


def from_settings(url: str | None, path: Path, project: str | None, config_path: Path | None,
                  password: str | None = None, password_file: Path | None = None) -> StateTarget:
    """The target of `[state]`: a URL that is not postgresql:// is a configuration error."""
    if not url:
        return StateTarget(path=path, project=project_name(project) if project else default_project(config_path))
    if not re.match(r"^postgres(ql)?://", url):
        raise ConfigError("[state] url must start with postgresql:// (leave it out for the SQLite file [state] path)")
    if password is None and password_file is not None:
        try:
            password = password_file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(f"[state] password_file {password_file}: cannot be read ({exc.strerror})") from None
    from leadsync.core.state.pg import register_passwords

    register_passwords(url, password)
    return StateTarget(path=path, url=url, password=password,
                       project=project_name(project) if project else default_project(config_path))


def open_store(target: StateTarget, *, readonly: bool = False, lock: Any = None) -> Any:
    """The store of `target`, migrated unless `readonly`: a `StateStore` or a `PgStateStore`
    (which checks the run's `lock` before each write transaction; an flock needs no check)."""
    if target.url is None:
        from leadsync.core.state.store import StateStore

        return StateStore(target.path, readonly=readonly)
    from leadsync.core.state.pgstore import PgStateStore

    return PgStateStore(target, readonly=readonly, lock=lock)

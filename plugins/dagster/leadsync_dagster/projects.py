"""Projects: one leadsync.toml each, named by `[state] project` or by the folder that holds it."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Project", "projects_from"]

_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


@dataclass(frozen=True)
class Project:
    """One leadsync project: its name (the Dagster partition key) and its configuration file."""

    name: str
    config: Path


def _declared_name(config: Path) -> str | None:
    """`[state] project` from the file, if it names one (the PostgreSQL state backend's key)."""
    try:
        data = tomllib.loads(config.read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return None  # the run itself reports an unreadable file (exit 2), under the folder's name
    state = data.get("state")
    name = state.get("project") if isinstance(state, dict) else None
    return name if isinstance(name, str) and name.strip() else None


def _default_name(config: Path) -> str:
    """The folder's name, made safe for a partition key ("acme corp" -> "acme-corp")."""
    return _UNSAFE.sub("-", config.resolve().parent.name).strip("-") or "project"


def projects_from(configs: Iterable[str | Path] | Mapping[str, str | Path]) -> list[Project]:
    """Projects from leadsync.toml paths (or a {name: path} mapping); names must be unique.

    A path may name the folder that holds leadsync.toml. Without an explicit name, a project is
    called by its `[state] project` key, else by its folder's name.
    """
    items = configs.items() if isinstance(configs, Mapping) else ((None, c) for c in configs)
    projects: list[Project] = []
    for name, raw in items:
        config = Path(raw).expanduser()
        if config.is_dir():
            config = config / "leadsync.toml"
        config = config.resolve()
        projects.append(Project(name or _declared_name(config) or _default_name(config), config))
    seen: dict[str, Path] = {}
    for project in projects:
        if project.name in seen:
            raise ValueError(f"two projects are named {project.name!r} ({seen[project.name]} and {project.config}); "
                             "name them with a {name: path} mapping or `[state] project`")
        seen[project.name] = project.config
    if not projects:
        raise ValueError("no leadsync project given: pass at least one leadsync.toml path")
    return projects

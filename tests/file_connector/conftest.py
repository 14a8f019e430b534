"""Helpers for the file connector tests: a connector on a temp folder and a page reader."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from leadsync.connectors.base import Page, ReadContext
from leadsync.connectors.builtin.file import FileConnector, FileSettings

ALL_ROLES = ["leads", "activities", "scores", "tasks"]


def make_connector(folder: Path, *, timezone_name: str = "Asia/Tokyo", **extra: Any) -> FileConnector:
    settings = FileSettings(plugin="file", path=folder, output=folder / "out", roles=ALL_ROLES, **extra)
    return FileConnector("sheet", settings, timezone=timezone_name)


def read_stream(connector: FileConnector, name: str, cursor: dict[str, Any] | None = None, *, full: bool = False) -> list[Page]:
    stream = next(s for s in connector.streams() if s.name == name)
    ctx = ReadContext(cursor=cursor, signpost=datetime.now(timezone.utc), full_refresh=full)
    return list(stream.read(ctx))


@pytest.fixture
def connector(folder: Path) -> FileConnector:
    return make_connector(folder)


@pytest.fixture
def read() -> Callable[..., list[Page]]:
    return read_stream


@pytest.fixture
def make() -> Callable[..., FileConnector]:
    return make_connector


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return tmp_path


@pytest.fixture
def write(folder: Path) -> Callable[..., Path]:
    def _write(name: str, text: str, encoding: str = "utf-8") -> Path:
        path = folder / name
        path.write_bytes(text.encode(encoding))
        return path

    return _write

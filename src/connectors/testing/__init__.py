"""Test helpers for plugin authors: fake vendor servers on 127.0.0.1 (see docs/plugins/testing.md)."""

from __future__ import annotations

from leadsync.connectors.testing.fakeserver import (
    FAULTS,
    FakeApp,
    FakeServer,
    FakeServerProcess,
    LogEntry,
    Request,
    Response,
    route,
    spawn_fake_server,
)
from leadsync.connectors.testing.project import DemoProject, demo_project

__all__ = [
    "DemoProject",
    "FAULTS",
    "FakeApp",
    "FakeServer",
    "FakeServerProcess",
    "LogEntry",
    "Request",
    "Response",
    "demo_project",
    "route",
    "spawn_fake_server",
]

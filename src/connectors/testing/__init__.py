"""Test helpers for plugin authors: fake vendor servers on 127.0.0.1 and the demo data (docs/plugins/testing.md)."""

from __future__ import annotations

from leadsync.connectors.testing.fakeprocess import FakeServerProcess, spawn_fake_server
from leadsync.connectors.testing.fakeserver import (
    FAULTS,
    FakeApp,
    FakeServer,
    LogEntry,
    Request,
    Response,
    route,
)
from leadsync.connectors.testing.project import DemoProject, demo_project, generate_demo
from leadsync.connectors.testing.trials import KillWorld, kill_trials, kill_trials_until_settled

__all__ = [
    "DemoProject",
    "FAULTS",
    "FakeApp",
    "FakeServer",
    "FakeServerProcess",
    "KillWorld",
    "LogEntry",
    "Request",
    "Response",
    "demo_project",
    "generate_demo",
    "kill_trials",
    "kill_trials_until_settled",
    "route",
    "spawn_fake_server",
]

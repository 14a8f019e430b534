"""A small world for reliability tests: an MA export (file connector) and a fake HubSpot CRM.

The fake runs as a real HTTP server in the test process; `leadsync sync run` runs as a child
process, so it can be killed with SIGKILL while the vendor's state lives on.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("leadsync_hubspot")

from leadsync_hubspot.testing import HubSpotFake, seed_demo  # noqa: E402
from leadsync.connectors.testing.fakeserver import FakeServer  # noqa: E402
from leadsync.connectors.testing.project import demo_project  # noqa: E402
from leadsync.core.normalize import normalize_email  # noqa: E402
from leadsync.core.state.store import StateStore  # noqa: E402

ANCHOR = datetime(2026, 11, 20, 1, 0, tzinfo=timezone.utc)
TOKEN = "pat-na1-SECRET-0f3c9a7e-token"



@dataclass
class World:
    folder: Path
    app: HubSpotFake
    server: FakeServer
    token: str = TOKEN
    anchor: datetime = ANCHOR  # the --as-of of every run unless a test passes another
    backend: Any = None  # tests/conftest.py's Backend; None: the SQLite file
    project: str = "world"

    @staticmethod
    def summary(result: subprocess.CompletedProcess[str]) -> dict:
        assert result.stdout, result.stderr[-2000:]
        return json.loads(result.stdout)

    def update_contact(self, record_id: str, properties: dict[str, str]) -> None:
        """Change a contact as a HubSpot user would: new values and a new lastmodifieddate."""
        self.app.user_edit("contacts", record_id, properties)  # made a while ago: search already sees it

    def run(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run(self.command(*args), capture_output=True, text=True, timeout=timeout, env=self.env())

    def start(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(self.command(*args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env=self.env())

    def command(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "leadsync", "--config", str(self.folder / "leadsync.toml"), "sync", "run",
                "--json", "--as-of", ANCHOR.isoformat(), *args]

    def env(self) -> dict[str, str]:
        backend = self.backend.env(self.project) if self.backend is not None else {}
        return {**os.environ, "LEADSYNC_CONNECTIONS__CRM__TOKEN": TOKEN, "LEADSYNC_LOAD_PLUGINS": "hubspot", **backend}

    @property
    def state_path(self) -> Path:
        return self.folder / "state" / "state.db"

    def store(self) -> StateStore:
        if self.backend is not None:
            return self.backend.open(self.project, self.state_path)
        return StateStore(self.state_path)

    def forget_state(self) -> None:
        """Lose the whole state store (the file and its WAL, or the project's schema)."""
        if self.backend is not None:
            self.backend.forget(self.project, self.state_path)
            return
        for name in ("state.db", "state.db-wal", "state.db-shm"):
            (self.folder / "state" / name).unlink(missing_ok=True)

    def vendor_scores(self) -> dict[str, tuple[str, str]]:
        return {normalize_email(r["properties"]["email"]): (r["properties"].get("leadsync_score"),
                                                           r["properties"].get("leadsync_segment"))
                for r in self.app.records("contacts") if r["properties"].get("leadsync_score") is not None}

    def vendor_tasks(self) -> dict[str, list[dict]]:
        """Live (not archived) tasks by leadsync key."""
        return self.app.tasks_with_key()

    def index_lag(self) -> float:
        return float(self.app.state["config"]["index_lag_s"] or 0)


def make_world(tmp_path: Path, *, leads: int = 150, activities: int = 2500, latency: float = 0.0,
               timeout: float = 5.0, index_lag_s: float | None = None, **server_options) -> World:
    app = HubSpotFake(tokens=(TOKEN,))
    app.rate_limits = {name: (100_000, 1.0) for name in app.rate_limits}
    seed_demo(app, ANCHOR, leads=leads, activities=activities)
    if index_lag_s is not None:  # default: the fake's own lag (> 0), as HubSpot's search lags writes
        app.state["config"]["index_lag_s"] = index_lag_s
    server = FakeServer(app, latency=latency, **server_options).start()
    crm = {"plugin": "hubspot", "base_url": server.url, "roles": ["leads", "activities", "scores", "tasks"],
           "timeout_s": timeout}  # the token comes from the environment
    demo_project(tmp_path, crm, anchor=ANCHOR, leads=leads, activities=activities, owners=("501", "502", "503"))
    return World(tmp_path, app, server)


@pytest.fixture
def world_factory(tmp_path: Path, state_backend):
    """Worlds on the `state_backend` (SQLite unless a test parametrizes it)."""
    made: list[World] = []

    def factory(name: str = "world", **options) -> World:
        folder = tmp_path / name
        folder.mkdir()
        world = make_world(folder, **options)
        world.backend = state_backend
        world.project = state_backend.project(name) if state_backend.is_postgres else name
        made.append(world)
        return world

    yield factory
    for world in made:
        world.server.stop()

"""A demo project whose notices go to local servers: webhooks (FakeServer) and SMTP (aiosmtpd)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from leadsync.connectors.testing.fakeserver import FakeServer
from leadsync.core.state.store import StateStore

from leadsync.connectors.testing.webhooks import HOOK, HooksApp


@dataclass
class Project:
    folder: Path
    hooks: HooksApp
    server: FakeServer

    @property
    def slack_url(self) -> str:
        return f"{self.server.url}/services/{HOOK}"

    def configure(self, text: str) -> None:
        with (self.folder / "leadsync.toml").open("a", encoding="utf-8") as handle:
            handle.write("\n" + text)

    def command(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "leadsync", "--config", str(self.folder / "leadsync.toml"), *args]

    def cli(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run(self.command(*args), capture_output=True, text=True, timeout=timeout, env=self.env())

    def sync(self, *args: str) -> tuple[dict, subprocess.CompletedProcess[str]]:
        result = self.cli("sync", "run", "--json", *args)
        assert result.stdout, result.stderr[-2000:]
        return json.loads(result.stdout), result

    def env(self) -> dict[str, str]:
        return {**os.environ, "LEADSYNC_LOAD_PLUGINS": ""}

    def store(self) -> StateStore:
        return StateStore(self.folder / ".leadsync" / "state.db", readonly=True)

    def handoffs(self) -> dict[int, str]:
        store = self.store()
        try:
            return {r[0]: r[1] for r in store.db.execute("SELECT id, lead_key FROM handoffs")}
        finally:
            store.close()

    def notice_rows(self) -> list[tuple[str, str]]:
        store = self.store()
        try:
            return [(r[0], r[1]) for r in store.db.execute(
                "SELECT key, status FROM outbox WHERE kind = 'notice' ORDER BY id")]
        finally:
            store.close()


@pytest.fixture
def project(tmp_path: Path):
    folder = tmp_path / "demo"
    result = subprocess.run([sys.executable, "-m", "leadsync", "init", "--demo", str(folder), "--force"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    hooks = HooksApp()
    server = FakeServer(hooks).start()
    yield Project(folder, hooks, server)
    server.stop()

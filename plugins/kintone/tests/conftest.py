"""Fixtures for the kintone plugin tests: a connector wired to an in-process fake kintone domain."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from leadsync_kintone.testing import KintoneFake
from leadsync_kintone.connector import KintoneConnector
from leadsync_kintone.settings import KintoneSettings

LEAD_APP_FIELDS = {
    "メールアドレス": "SINGLE_LINE_TEXT", "姓": "SINGLE_LINE_TEXT", "名": "SINGLE_LINE_TEXT",
    "会社名": "SINGLE_LINE_TEXT", "役職": "SINGLE_LINE_TEXT", "従業員数": "SINGLE_LINE_TEXT",
    "業種": "DROP_DOWN", "担当者": "USER_SELECT", "ステータス": "DROP_DOWN",
    "leadsync_score": "NUMBER", "leadsync_behavior_score": "NUMBER", "leadsync_attribute_score": "NUMBER",
    "leadsync_segment": "SINGLE_LINE_TEXT", "leadsync_sheet_version": "SINGLE_LINE_TEXT",
    "leadsync_scored_at": "DATETIME",
}
TASK_APP_FIELDS = {
    "leadsync_key": "SINGLE_LINE_TEXT", "件名": "SINGLE_LINE_TEXT", "内容": "MULTI_LINE_TEXT", "期限": "DATETIME",
    "担当者": "USER_SELECT", "優先度": "SINGLE_LINE_TEXT", "メールアドレス": "SINGLE_LINE_TEXT",
    "リードID": "SINGLE_LINE_TEXT", "ステータス": "DROP_DOWN", "完了日時": "DATETIME",
}


@pytest.fixture
def kintone_fake() -> KintoneFake:
    fake = KintoneFake()
    fake.add_app(10, LEAD_APP_FIELDS, unique=("メールアドレス",), token="lead-token-123")
    fake.add_app(30, TASK_APP_FIELDS, unique=("leadsync_key",), token="task-token-456")
    return fake


@pytest.fixture
def kintone_connector(kintone_fake: KintoneFake) -> Callable[..., KintoneConnector]:
    made: list[KintoneConnector] = []

    def make(**overrides: Any) -> KintoneConnector:
        values: dict[str, Any] = {
            "plugin": "kintone", "base_url": "https://example.cybozu.com",
            "api_token": "lead-token-123,task-token-456", "leads_app": 10, "tasks_app": 30,
            "roles": ["leads", "scores", "tasks"], **overrides,
        }
        transport = overrides.pop("transport", None) or httpx.MockTransport(kintone_fake.handle)
        values.pop("transport", None)
        connector = KintoneConnector("crm", KintoneSettings(**values), timezone="Asia/Tokyo", transport=transport,
                                     sleep=lambda seconds: None)
        made.append(connector)
        return connector

    yield make
    for connector in made:
        connector.close()


# --- a world for end-to-end reliability tests: the fake domain in this process, `leadsync` as a child ---
import json  # noqa: E402
import os  # noqa: E402
import random  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from datetime import datetime, timezone  # noqa: E402
from pathlib import Path  # noqa: E402

from leadsync_kintone.testing import make_app, minute, seed_demo  # noqa: E402
from leadsync.connectors.testing import FakeServer, demo_project, kill_trials, kill_trials_until_settled  # noqa: E402
from leadsync.connectors import normalize_email  # noqa: E402
from leadsync.core.state.store import StateStore  # noqa: E402

ANCHOR = datetime(2026, 11, 20, 1, 0, tzinfo=timezone.utc)
TOKENS = "lead-token-123,task-token-456"


@dataclass
class KintoneWorld:
    """A leadsync project whose CRM is the fake kintone domain; runs are `leadsync sync run` child processes."""

    folder: Path
    fake: KintoneFake
    server: FakeServer
    rng: random.Random = field(default_factory=lambda: random.Random(20261205))

    def command_at(self, as_of: datetime) -> list[str]:
        """The run command with another --as-of (a later moment of the same scenario)."""
        command = self.command()
        command[command.index("--as-of") + 1] = as_of.isoformat()
        return command

    def command(self) -> list[str]:
        return [sys.executable, "-m", "leadsync", "--config", str(self.folder / "leadsync.toml"), "sync", "run",
                "--json", "--as-of", ANCHOR.isoformat()]

    def env(self) -> dict[str, str]:
        return {**os.environ, "LEADSYNC_CONNECTIONS__CRM__API_TOKEN": TOKENS, "LEADSYNC_LOAD_PLUGINS": "kintone"}

    def run(self, timeout: float = 180, *, as_of: datetime | None = None) -> dict:
        command = self.command_at(as_of) if as_of else self.command()
        result = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=self.env())
        assert "task-token-456" not in result.stdout + result.stderr
        assert result.stdout, result.stderr[-2000:]
        return json.loads(result.stdout)

    def start(self) -> subprocess.Popen[str]:
        return subprocess.Popen(self.command(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=self.env())

    def store(self) -> StateStore:
        return StateStore(self.folder / "state" / "state.db")

    def lose_state(self) -> None:
        """Delete the state database with its -wal and -shm, as a lost disk or a bad restore would."""
        for suffix in ("", "-wal", "-shm"):
            (self.folder / "state" / f"state.db{suffix}").unlink(missing_ok=True)

    def mutate(self, count: int = 20) -> None:
        """Edit a few lead records as a user would (new title, new revision and update time)."""
        with self.fake.lock:
            records = self.fake.records(10)
            for record_id in self.rng.sample(sorted(records), count):
                record = records[record_id]
                record["役職"] = self.rng.choice(["代表取締役社長", "CTO", "営業部長", "担当", "Marketing Manager", ""])
                record["$revision"] += 1
                record["更新日時"] = minute()

    def vendor_tasks(self) -> dict[str, list[dict]]:
        found: dict[str, list[dict]] = {}
        for record in list(self.fake.records(30).values()):
            if record.get("leadsync_key"):
                found.setdefault(record["leadsync_key"], []).append(record)
        return found

    def vendor_scores(self) -> dict[str, tuple[str, str]]:
        return {normalize_email(r["メールアドレス"]): (str(r["leadsync_score"]), r["leadsync_segment"])
                for r in list(self.fake.records(10).values()) if r.get("leadsync_score") not in (None, "")}


def make_kintone_world(folder: Path, *, leads: int = 150, activities: int = 2500, latency: float = 0.0) -> KintoneWorld:
    fake = KintoneFake()
    fake.add_app(10, LEAD_APP_FIELDS, unique=("メールアドレス",), token="lead-token-123")
    fake.add_app(30, TASK_APP_FIELDS, unique=("leadsync_key",), token="task-token-456")
    seed_demo(fake, ANCHOR, leads=leads, activities=activities)
    server = FakeServer(make_app(fake), latency=latency).start()
    crm = {"plugin": "kintone", "base_url": server.url, "leads_app": 10, "tasks_app": 30, "timeout_s": 5,
           "roles": ["leads", "scores", "tasks"]}  # the API tokens come from the environment
    demo_project(folder, crm, anchor=ANCHOR, leads=leads, activities=activities)
    return KintoneWorld(folder, fake, server)


@pytest.fixture
def kt_world(tmp_path: Path):
    made: list[KintoneWorld] = []

    def factory(name: str = "world", **options) -> KintoneWorld:
        folder = tmp_path / name
        folder.mkdir()
        made.append(make_kintone_world(folder, **options))
        return made[-1]

    yield factory
    for world in made:
        world.server.stop()


def store_truth(store: StateStore) -> tuple[set[str], int, dict[str, tuple[str, str]], int]:
    """Handoff task keys, pending outbox rows, email -> (score, segment) of CRM leads, dead letters."""
    try:
        handoff_keys = {row[0] for row in store.db.execute("SELECT task_key FROM handoffs")}
        pending = store.db.execute("SELECT COUNT(*) FROM outbox WHERE status = 'pending'").fetchone()[0]
        scores = {row[0]: (str(row[1]), row[2]) for row in store.db.execute(
            "SELECT l.email, s.total, s.segment FROM scores s JOIN leads l ON l.key = s.lead_key "
            "JOIN lead_refs r ON r.lead_key = s.lead_key AND r.connection = 'crm'")}
        dead = store.db.execute("SELECT COUNT(*) FROM dead_letters").fetchone()[0]
    finally:
        store.close()
    return handoff_keys, pending, scores, dead


@pytest.fixture
def reliability():
    """The harness functions above, for test modules (conftest is not importable by name)."""
    from types import SimpleNamespace

    return SimpleNamespace(trials=kill_trials, kill_until_settled=kill_trials_until_settled, truth=store_truth,
                           anchor=ANCHOR)

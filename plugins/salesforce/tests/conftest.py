"""Fixtures for the Salesforce plugin's tests."""

from __future__ import annotations

import pytest
import respx

from leadsync_salesforce import SalesforceConnector, SalesforceSettings

LOGIN = "https://login.salesforce.com"
INSTANCE = "https://acme.my.salesforce.com"


def _make(**keys: object) -> SalesforceConnector:
    values = {"plugin": "salesforce", "client_id": "cid", "client_secret": "csecret", "refresh_token": "rtok", **keys}
    connector = SalesforceConnector("crm", SalesforceSettings.model_validate(values), timezone="Asia/Tokyo",
                                    sleep=lambda seconds: None)
    return connector


@pytest.fixture
def make_sf():
    made: list[SalesforceConnector] = []

    def factory(**keys: object) -> SalesforceConnector:
        made.append(_make(**keys))
        return made[-1]

    yield factory
    for connector in made:
        connector.close()


@pytest.fixture
def org():
    """The fake org with leadsync's custom fields defined, served on a local port."""
    from leadsync.connectors.testing import FakeServer
    from leadsync_salesforce.testing import SalesforceFake

    app = SalesforceFake()
    with FakeServer(app) as server:
        app.url = server.url
        app.define_leadsync_fields()
        yield app, server


@pytest.fixture
def sf_api():
    with respx.mock(assert_all_called=False) as router:
        router.post(f"{LOGIN}/services/oauth2/token").respond(200, json={
            "access_token": "00D!session-1", "instance_url": INSTANCE, "token_type": "Bearer", "id": "x", "issued_at": "1"})
        yield router


# --- a world for end-to-end reliability tests: the fake org in this process, `leadsync` as a child ---
import json  # noqa: E402
import os  # noqa: E402
import random  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from datetime import datetime, timezone  # noqa: E402
from pathlib import Path  # noqa: E402

from leadsync_salesforce.testing import SalesforceFake, seed_demo, sf_time  # noqa: E402
from leadsync.connectors.testing import FakeServer, demo_project, kill_trials, kill_trials_until_settled  # noqa: E402
from leadsync.connectors import normalize_email  # noqa: E402
from leadsync.core.state.store import StateStore  # noqa: E402

ANCHOR = datetime(2026, 11, 20, 1, 0, tzinfo=timezone.utc)
REFRESH_TOKEN = "sf-rtok-SECRET-5Aep861"


@dataclass
class SalesforceWorld:
    """A leadsync project whose CRM is the fake org; runs are `leadsync sync run` child processes."""

    folder: Path
    app: SalesforceFake
    server: FakeServer
    rng: random.Random = field(default_factory=lambda: random.Random(20261205))

    def command_at(self, as_of: datetime) -> list[str]:
        """The run command with another --as-of (a later moment of the same scenario)."""
        command = self.command()
        command[command.index("--as-of") + 1] = as_of.isoformat()
        return command

    def command(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "leadsync", "--config", str(self.folder / "leadsync.toml"), "sync", "run",
                "--json", "--as-of", ANCHOR.isoformat(), *args]

    def env(self) -> dict[str, str]:
        return {**os.environ, "LEADSYNC_CONNECTIONS__CRM__REFRESH_TOKEN": REFRESH_TOKEN,
                "LEADSYNC_LOAD_PLUGINS": "salesforce"}

    def run(self, timeout: float = 180, *, as_of: datetime | None = None) -> dict:
        command = self.command_at(as_of) if as_of else self.command()
        result = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=self.env())
        assert REFRESH_TOKEN not in result.stdout + result.stderr
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
        """Edit a few Leads as a user would (new title, new SystemModstamp): scores move, some turn hot."""
        for lead in self.rng.sample(self.app.records("Lead"), count):
            lead["Title"] = self.rng.choice(["代表取締役社長", "CTO", "営業部長", "担当", "Marketing Manager", None])
            lead["SystemModstamp"] = sf_time()

    def vendor_tasks(self) -> dict[str, list[dict]]:
        found: dict[str, list[dict]] = {}
        for task in self.app.records("Task"):
            if task.get("Leadsync_Key__c"):
                found.setdefault(task["Leadsync_Key__c"], []).append(task)
        return found

    def vendor_scores(self) -> dict[str, tuple[str, str]]:
        return {normalize_email(r["Email"]): (str(r["Leadsync_Score__c"]), r["Leadsync_Segment__c"])
                for r in self.app.records("Lead") if r.get("Leadsync_Score__c") is not None}


def make_salesforce_world(folder: Path, *, leads: int = 150, activities: int = 2500, latency: float = 0.0) -> SalesforceWorld:
    app = SalesforceFake(refresh_token=REFRESH_TOKEN)
    server = FakeServer(app, latency=latency).start()
    app.url = server.url
    seed_demo(app, ANCHOR, leads=leads, activities=activities)
    crm = {"plugin": "salesforce", "login_url": server.url, "client_id": "sf-cid", "page_size": 200, "timeout_s": 5,
           "roles": ["leads", "activities", "scores", "tasks"]}  # the refresh token comes from the environment
    owners = (app.add_user("sato@example.jp"), app.add_user("suzuki@example.jp"))  # OwnerId: active Users
    demo_project(folder, crm, anchor=ANCHOR, leads=leads, activities=activities, owners=owners)
    return SalesforceWorld(folder, app, server)


@pytest.fixture
def sf_world(tmp_path: Path):
    made: list[SalesforceWorld] = []

    def factory(name: str = "world", **options) -> SalesforceWorld:
        folder = tmp_path / name
        folder.mkdir()
        made.append(make_salesforce_world(folder, **options))
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


def store_dead_letters(store: StateStore) -> list[tuple[str, str, str]]:
    """(kind, record key, reason) of every dead letter, so a failing assertion says what went wrong."""
    try:
        return [tuple(r) for r in store.db.execute("SELECT kind, record_key, reason FROM dead_letters ORDER BY id")]
    finally:
        store.close()


@pytest.fixture
def reliability():
    """The harness functions above, for test modules (conftest is not importable by name)."""
    from types import SimpleNamespace

    return SimpleNamespace(trials=kill_trials, kill_until_settled=kill_trials_until_settled, truth=store_truth,
                           dead_letters=store_dead_letters,
                           anchor=ANCHOR)

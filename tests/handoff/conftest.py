"""Fixtures for handoff tests: a state store filled by hand, settings and a plugin host."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pluggy
import pytest

from leadsync.connectors import hookspecs
from leadsync.connectors.plugins import PluginHost
from leadsync.core.config import HandoffSettings, Settings
from leadsync.core.models import Activity, ActivityType, Lead
from leadsync.core.state.store import StateStore

JST = ZoneInfo("Asia/Tokyo")


def jst(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=JST)


class World:
    """A state store plus the rows the sync and scoring engines would have written."""

    HOT = [("価格ページ閲覧", 25.0), ("役職: 経営層", 30.0), ("ウェビナー参加", 20.0), ("メール開封", 5.0)]

    def __init__(self, path: Path, **handoff: object) -> None:
        self.path = path
        self.store = StateStore(path)
        handoff.setdefault("owners", ["rep-a", "rep-b", "rep-c"])
        self.settings = Settings(
            handoff=HandoffSettings(**handoff),
            connections={"crm": {"plugin": "file", "roles": ["leads", "tasks"]}, "ma": {"plugin": "file", "roles": ["leads"]}},
        )
        self.pm = pluggy.PluginManager("leadsync")
        self.pm.add_hookspecs(hookspecs)
        self.host = PluginHost(self.pm)

    def reopen(self) -> None:
        """A restart: a fresh connection to the same file."""
        self.store.close()
        self.store = StateStore(self.path)

    def lead(self, email: str, **fields: object) -> Lead:
        fields.setdefault("refs", {"crm": f"00Q-{email.split('@')[0]}"})
        lead = Lead(key=email, email=email, **fields)  # type: ignore[arg-type]
        with self.store.transaction() as db:
            db.execute(
                "INSERT INTO leads(key, email, data, updated_at, dirty) VALUES (?, ?, ?, 0, 0) "
                "ON CONFLICT(key) DO UPDATE SET data = excluded.data",
                (lead.key, lead.email, lead.model_dump_json()),
            )
        return lead

    def update_lead(self, email: str, **fields: object) -> None:
        row = self.store.db.execute("SELECT data FROM leads WHERE key = ?", (email,)).fetchone()
        lead = Lead.model_validate_json(row[0]).model_copy(update=fields)
        with self.store.transaction() as db:
            db.execute("UPDATE leads SET data = ? WHERE key = ?", (lead.model_dump_json(), email))

    def score(self, email: str, total: int, at: datetime, breakdown: list[tuple[str, float]] | None = None) -> None:
        segment = "hot" if total >= 80 else "warm" if total >= 50 else "cold"
        hits = [{"rule": r, "group": "行動スコア", "points": p, "evidence": []} for r, p in (breakdown or [])]
        with self.store.transaction() as db:
            db.execute(
                "INSERT INTO scores(lead_key, total, behavior, attribute, segment, sheet_version, scored_at, breakdown) "
                "VALUES (?, ?, ?, ?, ?, 'v1', ?, ?) ON CONFLICT(lead_key) DO UPDATE SET total = excluded.total, "
                "segment = excluded.segment, scored_at = excluded.scored_at, breakdown = excluded.breakdown",
                (email, total, total // 2, total - total // 2, segment, at.timestamp(), json.dumps(hits, ensure_ascii=False)),
            )
            db.execute(
                "INSERT INTO score_history(lead_key, at, total, segment, reason, sheet_version) VALUES (?, ?, ?, ?, 'test', 'v1')",
                (email, at.timestamp(), total, segment),
            )

    def activity(self, email: str, source_id: str, kind: str, at: datetime, url: str | None = None) -> None:
        activity = Activity(source_id=source_id, connection="ma", lead_key=email, email=email,
                            type=ActivityType(kind), occurred_at=at, url=url)
        with self.store.transaction() as db:
            db.execute(
                "INSERT INTO activities(connection, source_id, lead_key, type, occurred_at, url, data) VALUES (?, ?, ?, ?, ?, ?, ?)",
                ("ma", source_id, email, kind, at.timestamp(), url, activity.model_dump_json()),
            )

    def handoffs(self) -> list[dict]:
        return [dict(r) for r in self.store.db.execute("SELECT * FROM handoffs ORDER BY id")]

    def outbox(self) -> list[dict]:
        return [dict(r) | {"payload": json.loads(r["payload"])} for r in self.store.db.execute("SELECT * FROM outbox ORDER BY id")]


@pytest.fixture
def world(tmp_path: Path) -> World:
    w = World(tmp_path / "state.db")
    yield w
    w.store.close()


@pytest.fixture
def make_world(tmp_path: Path):
    made: list[World] = []

    def make(**handoff: object) -> World:
        w = World(tmp_path / f"state{len(made)}.db", **handoff)
        made.append(w)
        return w

    yield make
    for w in made:
        w.store.close()



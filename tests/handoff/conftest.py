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
from leadsync.core.state import activities, leads, scores
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
            leads.put(db, lead, dirty=False, updated_at=0)
        return lead

    def update_lead(self, email: str, **fields: object) -> None:
        lead = leads.load(self.store.db, email).model_copy(update=fields)  # type: ignore[union-attr]
        with self.store.transaction() as db:
            leads.put(db, lead, dirty=False, updated_at=0)

    def score(self, email: str, total: int, at: datetime, breakdown: list[tuple[str, float]] | None = None) -> None:
        segment = "hot" if total >= 80 else "warm" if total >= 50 else "cold"
        hits = [{"rule": r, "group": "行動スコア", "points": p, "evidence": []} for r, p in (breakdown or [])]
        with self.store.transaction() as db:
            scores.put(db, email, total, total // 2, total - total // 2, segment, at.timestamp(), hits)
            scores.put_history(db, email, at.timestamp(), total, segment, "test")

    def activity(self, email: str, source_id: str, kind: str, at: datetime, url: str | None = None) -> None:
        activity = Activity(source_id=source_id, connection="ma", lead_key=email, email=email,
                            type=ActivityType(kind), occurred_at=at, url=url)
        with self.store.transaction() as db:
            activities.put(db, activity)

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



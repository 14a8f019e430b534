"""A project whose state store holds hand-made calls, meetings and opportunities."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner, Result

from leadsync.core.cli.main import cli
from leadsync.core.models import Activity, ActivityType, Lead, Opportunity, OpportunityStatus
from leadsync.core.state.store import StateStore
from leadsync.core.sync.identity import ingest

TOKYO = ZoneInfo("Asia/Tokyo")


def at(text: str) -> datetime:
    """A Tokyo time from 'YYYY-MM-DD HH:MM'."""
    return datetime.strptime(text, "%Y-%m-%d %H:%M").replace(tzinfo=TOKYO)


def call(n: int, email: str, when: str, seconds: int, outcome: str | None = None, owner: str = "sato") -> Activity:
    return Activity(source_id=f"c{n}", email=email, type=ActivityType.CALL, occurred_at=at(when),
                    duration_seconds=seconds, outcome=outcome, owner=owner)


def store_records(store: StateStore, records: list) -> None:
    with store.transaction() as db:
        counts = ingest(db, "crm", records, stream="test", crm_connections={"crm"}, run_id=None)
    assert counts.rejected == 0


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """leadsync.toml (defaults, Asia/Tokyo) and a state store with the hand-made data below.

    April 2025 (Tokyo), leads a@x (展示会), b@x (資料ダウンロード):
    calls (10): a: 0 s no_answer, 5 s, 130 s, 0 s 'connected' outcome, 200 s (suzuki);
                b: 0 s voicemail, 60 s, 0 s busy, 119 s, 120 s (suzuki)
      -> connects 7 (duration >= 1 or connected), conversations 3 (>= 120 s)
    meetings set: a (04-10), b (04-11); meetings: a held (04-15), b no_show (04-16)
    opportunities: a created 04-17, won 04-25 for 1,000,000; b created 03-20, lost 04-20
    """
    monkeypatch.setenv("LEADSYNC_LOAD_PLUGINS", "")
    monkeypatch.delenv("LEADSYNC_CONFIG", raising=False)
    (tmp_path / "leadsync.toml").write_text('[state]\npath = "state.db"\n', encoding="utf-8")
    store = StateStore(tmp_path / "state.db")
    store_records(store, [
        Lead(email="a@x.example", refs={"crm": "1"}, lead_source="展示会"),
        Lead(email="b@x.example", refs={"crm": "2"}, lead_source="資料ダウンロード"),
        call(1, "a@x.example", "2025-04-07 09:10", 0, "no_answer"),
        call(2, "a@x.example", "2025-04-07 09:40", 5),
        call(3, "a@x.example", "2025-04-08 10:05", 130),
        call(4, "a@x.example", "2025-04-08 10:30", 0, "connected"),
        call(5, "a@x.example", "2025-04-09 16:00", 200, owner="suzuki"),
        call(6, "b@x.example", "2025-04-07 09:20", 0, "voicemail"),
        call(7, "b@x.example", "2025-04-08 10:15", 60),
        call(8, "b@x.example", "2025-04-09 16:20", 0, "busy"),
        call(9, "b@x.example", "2025-04-09 16:40", 119),
        call(10, "b@x.example", "2025-04-10 11:00", 120, owner="suzuki"),
        Activity(source_id="m1", email="a@x.example", type=ActivityType.MEETING_SET, occurred_at=at("2025-04-10 12:00"), owner="sato"),
        Activity(source_id="m2", email="b@x.example", type=ActivityType.MEETING_SET, occurred_at=at("2025-04-11 12:00"), owner="suzuki"),
        Activity(source_id="m3", email="a@x.example", type=ActivityType.MEETING, occurred_at=at("2025-04-15 14:00"), outcome="held"),
        Activity(source_id="m4", email="b@x.example", type=ActivityType.MEETING, occurred_at=at("2025-04-16 14:00"), outcome="no_show"),
        Opportunity(source_id="o1", email="a@x.example", created_at=at("2025-04-17 10:00"), amount=1_000_000,
                    status=OpportunityStatus.WON, closed_at=at("2025-04-25 10:00"), owner="sato"),
        Opportunity(source_id="o2", email="b@x.example", created_at=at("2025-03-20 10:00"),
                    status=OpportunityStatus.LOST, closed_at=at("2025-04-20 10:00"), lost_reason="価格"),
    ])
    store.close()
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


@pytest.fixture
def run():
    """The CLI in-process: run("report", "funnel", ...)."""
    return _run

"""Scoring test fixtures and helpers: put Lead and Activity rows into a StateStore the way the sync engine does."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from leadsync.core.models import Activity, Lead
from leadsync.core.state.store import StateStore



def put_lead(store: StateStore, lead: Lead, *, dirty: int = 1) -> None:
    with store.transaction():
        store.db.execute(
            "INSERT INTO leads(key, email, data, updated_at, dirty) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT(key) DO UPDATE SET email = excluded.email, data = excluded.data, "
            "updated_at = excluded.updated_at, dirty = excluded.dirty",
            (lead.key, lead.email, lead.model_dump_json(), datetime.now(UTC).timestamp(), dirty),
        )


def put_activities(store: StateStore, activities: Iterable[Activity], *, mark_dirty: bool = True) -> None:
    with store.transaction():
        for act in activities:
            store.db.execute(
                "INSERT OR IGNORE INTO activities(connection, source_id, lead_key, type, occurred_at, url, data) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (act.connection or "test", act.source_id, act.lead_key, act.type.value,
                 act.occurred_at.timestamp(), act.url, act.model_dump_json()),
            )
            if mark_dirty:
                store.db.execute("UPDATE leads SET dirty = 1 WHERE key = ?", (act.lead_key,))


def act(source_id: str, lead_key: str, type_: str, when: datetime, url: str | None = None) -> Activity:
    return Activity(source_id=source_id, connection="test", lead_key=lead_key, type=type_, occurred_at=when, url=url)


import types
from pathlib import Path

import pytest
from leadsync.core.config import ScoringSettings
from leadsync.core.scoring import load_sheet

DEFAULT_SHEET = Path(__file__).resolve().parents[2] / "src" / "core" / "data" / "scoring-sheet.csv"


@pytest.fixture
def store() -> Iterable[StateStore]:
    db = StateStore(":memory:")
    yield db
    db.close()


@pytest.fixture
def settings() -> ScoringSettings:
    return ScoringSettings()


@pytest.fixture
def sheet(settings: ScoringSettings):  # type: ignore[no-untyped-def]
    return load_sheet(DEFAULT_SHEET, settings)


@pytest.fixture
def h() -> types.SimpleNamespace:
    """put_lead, put_activities, act, DEFAULT_SHEET."""
    return types.SimpleNamespace(put_lead=put_lead, put_activities=put_activities, act=act, DEFAULT_SHEET=DEFAULT_SHEET)

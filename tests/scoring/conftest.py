"""Scoring test fixtures and helpers: put Lead and Activity rows into a StateStore the way the sync engine does."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from leadsync.core.models import Activity, Lead
from leadsync.core.state import activities as stored_activities
from leadsync.core.state import leads
from leadsync.core.state.store import StateStore



def put_lead(store: StateStore, lead: Lead, *, dirty: int = 1) -> None:
    with store.transaction() as db:
        leads.put(db, lead, dirty=bool(dirty))


def put_activities(store: StateStore, activities: Iterable[Activity], *, mark_dirty: bool = True) -> None:
    with store.transaction() as db:
        for act in activities:
            stored_activities.put(db, act)
            if mark_dirty:
                leads.mark_dirty(db, act.lead_key)


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

"""What the record-move and removal tests share: CRM ("crm") leads known by record id, calls
named by record id, an open episode, a stored score, and the MA ("ma") knowing a person."""

from __future__ import annotations

from datetime import datetime, timezone

from leadsync.core.models import Activity, ActivityType, Lead
from leadsync.core.state import handoffs
from leadsync.core.sync.identity import ingest as ingest_page

T0 = datetime(2026, 10, 1, tzinfo=timezone.utc)


def crm_lead(record_id: str, email: str | None, **fields) -> Lead:
    """The CRM's record; a lead without e-mail is keyed `crm:<record id>`."""
    return Lead(key=email or f"crm:{record_id}", email=email, refs={"crm": record_id}, **fields)


def call(source_id: str, record_id: str, email: str | None = None, at: datetime = T0) -> Activity:
    return Activity(source_id=source_id, type=ActivityType.CALL, occurred_at=at, lead_record_id=record_id, email=email)


def open_episode(db, lead_key: str, task_key: str) -> None:
    assert handoffs.insert(db, lead_key=lead_key, connection="crm", owner="sato", score=80, segment="hot",
                           opened_at=T0.timestamp(), due_at=T0.timestamp() + 3600, task_key=task_key,
                           reasons=[], opened_status=None)


def put_score(db, lead_key: str, total: int = 80) -> None:
    db.execute("DELETE FROM scores WHERE lead_key = ?", (lead_key,))
    db.execute("INSERT INTO scores(lead_key, total, behavior, attribute, segment, sheet_version, scored_at, "
               "breakdown) VALUES (?, ?, 0, 0, 'hot', 'v', 0, '[]')", (lead_key, total))


def ma_knows(store, email: str) -> None:
    """The MA has the person too (record M1): the lead stays when the CRM's record leaves it."""
    with store.transaction() as db:
        ingest_page(db, "ma", [Lead(key=email, email=email, refs={"ma": "M1"})], stream="leads",
                    crm_connections={"crm"}, run_id=1)

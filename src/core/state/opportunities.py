"""Named state operations on opportunities (deals): storing pulled ones, outcome sets per lead."""

from __future__ import annotations

import sqlite3

from leadsync.core.models import Opportunity
from leadsync.core.normalize import normalize_email

__all__ = ["converted_leads", "remove", "store_opportunity"]


def _lead_of_record(db: sqlite3.Connection, connection: str, record_id: str) -> str | None:
    row = db.execute(
        "SELECT lead_key FROM lead_refs WHERE connection = ? AND record_id = ?", (connection, record_id)
    ).fetchone()
    return row[0] if row else None


def store_opportunity(db: sqlite3.Connection, connection: str, opportunity: Opportunity) -> str | bool:
    """Insert or update one opportunity: True when new or changed, False when unchanged, or the
    reason it cannot be placed (no e-mail, no known lead record)."""
    lead_key = normalize_email(opportunity.email) or ""
    if not lead_key and opportunity.lead_record_id:
        lead_key = _lead_of_record(db, connection, opportunity.lead_record_id) or ""
    lead_key = lead_key or opportunity.lead_key
    if not lead_key:
        return (f"opportunity {opportunity.source_id}: no e-mail and no known lead record id "
                f"{opportunity.lead_record_id!r}")
    opportunity = opportunity.model_copy(update={"connection": connection, "lead_key": lead_key})
    data = opportunity.model_dump_json()
    existing = db.execute(
        "SELECT data FROM opportunities WHERE connection = ? AND source_id = ?", (connection, opportunity.source_id)
    ).fetchone()
    if existing is not None and existing[0] == data:
        return False
    db.execute(
        "INSERT INTO opportunities(connection, source_id, lead_key, status, created_at, closed_at, amount, owner, data) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(connection, source_id) DO UPDATE SET "
        "lead_key = excluded.lead_key, status = excluded.status, created_at = excluded.created_at, "
        "closed_at = excluded.closed_at, amount = excluded.amount, owner = excluded.owner, data = excluded.data",
        (connection, opportunity.source_id, lead_key, opportunity.status.value, opportunity.created_at.timestamp(),
         opportunity.closed_at.timestamp() if opportunity.closed_at else None, opportunity.amount,
         opportunity.owner, data),
    )
    return True


def remove(db: sqlite3.Connection, connection: str, source_ids: list[str]) -> int:
    """Delete these opportunities of a connection, if stored; returns how many were."""
    return sum(db.execute("DELETE FROM opportunities WHERE connection = ? AND source_id = ?",
                          (connection, source_id)).rowcount for source_id in source_ids)


def converted_leads(db: sqlite3.Connection, outcome: str) -> set[str]:
    """Lead keys that reached `outcome` at any time: 'meeting' (a meeting booked), 'opportunity'
    (an opportunity created) or 'won' (an opportunity won)."""
    if outcome == "meeting":
        sql = "SELECT DISTINCT lead_key FROM activities WHERE type = 'meeting_set'"
    elif outcome == "opportunity":
        sql = "SELECT DISTINCT lead_key FROM opportunities"
    elif outcome == "won":
        sql = "SELECT DISTINCT lead_key FROM opportunities WHERE status = 'won'"
    else:
        raise ValueError(f"unknown outcome {outcome!r} (meeting, opportunity or won)")
    return {row[0] for row in db.execute(sql)}

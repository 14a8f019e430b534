"""Records named by a lead record follow it when the record moves to another identity.

A CRM names a task, an engagement or a deal by its lead's record id. Stored, such a record sits
under the lead that record belonged to; when the record moves to another lead (it gets its first
e-mail, or its e-mail changes), the activities and opportunities that name it by record id alone
(no e-mail of their own) move with it. Those with an e-mail stay: the e-mail is their identity.
"""

from __future__ import annotations

import sqlite3

from leadsync.core.models import Activity, Opportunity
from leadsync.core.normalize import normalize_email

__all__ = ["follow_record"]

_TABLES: tuple[tuple[str, type[Activity] | type[Opportunity], str], ...] = (
    ("activities", Activity, ", lead_id = (SELECT l.rowid FROM leads l WHERE l.key = ?)"),
    ("opportunities", Opportunity, ""),
)


def follow_record(db: sqlite3.Connection, connection: str, record_id: str, old_key: str, new_key: str) -> int:
    """Move the connection's activities and opportunities under `old_key` that name their lead only
    by `record_id` to `new_key` (stored JSON included, as a fresh read would store it); returns how
    many moved. The caller marks both leads for rescoring when any did."""
    moved = 0
    for table, model, lead_id in _TABLES:
        rows = db.execute(f"SELECT source_id, data FROM {table} WHERE lead_key = ? AND connection = ?",
                          (old_key, connection)).fetchall()
        moves = []
        for source_id, data in rows:
            record = model.model_validate_json(data)
            if record.lead_record_id == record_id and not normalize_email(record.email):
                fresh = record.model_copy(update={"lead_key": new_key}).model_dump_json()
                moves.append((new_key, fresh, *((new_key,) if lead_id else ()), connection, source_id))
        db.executemany(f"UPDATE {table} SET lead_key = ?, data = ?{lead_id} WHERE connection = ? AND source_id = ?",
                       moves)
        moved += len(moves)
    return moved

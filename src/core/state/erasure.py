"""Erasure: everything the state store holds about given people, deleted on request.

A person is named by e-mail (normalized) or by lead key (`<connection>:<record id>` for a lead
without one). What goes: the merged lead and every system's view of it, its activities,
opportunities and the records waiting for it (by its record ids), its score, score history and
pushed scores, its handoff episodes, outbox rows (score writes, tasks, notices about it), quality
notes, orphan completions, and dead letters naming it (by key or record id); dead letters and outbox
rows whose payload holds its e-mail anywhere, and outbox rows addressed to one of its records (a
write planned under a key it had before an e-mail change). The newest row of a table whose ids are
watermarks is scrubbed of the person instead (its id must never be handed out again).
Runs, cursors and kv hold counts and positions only, and stay.
"""

from __future__ import annotations

import json
import re
import sqlite3

from leadsync.core.state import leads

__all__ = ["TABLES", "forget"]

# Tables in the order rows are deleted; every count `forget` returns is keyed by one of them.
TABLES = ("activities", "opportunities", "waiting_activities", "waiting_opportunities", "scores", "score_history",
          "pushed_scores", "handoffs", "outbox", "quality_conflicts", "quality_releases", "orphan_completions",
          "dead_letters", "lead_refs", "leads")

_KEYS = "(SELECT value FROM json_each(?))"
_BY_LEAD_KEY = ("activities", "opportunities", "scores", "score_history", "pushed_scores", "handoffs", "outbox",
                "quality_conflicts", "quality_releases")


def _like(text: str) -> str:
    """A LIKE pattern matching `text` anywhere, its own `%`, `_` and `\\` taken literally."""
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


# Tables whose ids are watermarks (notifications, retention): their newest row is scrubbed of the
# person rather than deleted, so SQLite never hands its id out again.
_SCRUB = {
    "score_history": "lead_key = ''",
    "outbox": "lead_key = '', payload = '{}', status = CASE WHEN status = 'pending' THEN 'superseded' ELSE status END",
    "dead_letters": "record_key = NULL, payload = NULL, reason = 'erased on request', "
                    "requeued_at = COALESCE(requeued_at, created_at)",
}


def _delete(db: sqlite3.Connection, table: str, where: str, params: tuple) -> int:
    """Delete the rows of `table` matching `where`; the newest row of a watermark table is scrubbed."""
    if table not in _SCRUB:
        return db.execute(f"DELETE FROM {table} WHERE {where}", params).rowcount
    newest = f"id = (SELECT MAX(id) FROM {table})"
    scrubbed = db.execute(f"UPDATE {table} SET {_SCRUB[table]} WHERE {newest} AND ({where})", params).rowcount
    return scrubbed + db.execute(f"DELETE FROM {table} WHERE NOT ({newest}) AND ({where})", params).rowcount


def _mentions(text: str, email: str) -> bool:
    """Whether `text` (lower-cased) holds `email` as an address of its own, not inside a longer one."""
    return re.search(rf"(?<![a-z0-9._%+-]){re.escape(email)}(?!\.?[a-z0-9-])", text) is not None


def _payloads(db: sqlite3.Connection, table: str, emails: list[str], refs: list) -> list[int]:
    """Ids of the rows whose payload (a record as read, a write, a notice) holds one of the e-mails
    anywhere, in any case, or, for the outbox, is addressed to one of the person's records (a
    write planned under a key the person had before)."""
    found: set[int] = set()
    for email in emails:
        for form in {email, json.dumps(email)[1:-1]}:  # as typed, and as JSON escapes it
            for row_id, payload in db.execute(f"SELECT id, payload FROM {table} WHERE lower(payload) LIKE ? "
                                              "ESCAPE '\\'", (_like(form),)).fetchall():
                if _mentions(payload.lower(), form):
                    found.add(row_id)
    if table == "outbox":
        for connection, record_id in refs:
            for row_id, payload in db.execute("SELECT id, payload FROM outbox WHERE connection = ? AND payload LIKE ? "
                                              "ESCAPE '\\'", (connection, _like(json.dumps(record_id)))).fetchall():
                if json.loads(payload).get("record_id") == record_id:
                    found.add(row_id)
    return sorted(found)


def forget(db: sqlite3.Connection, emails: list[str], keys: list[str]) -> dict[str, int]:
    """Delete what the store holds about the people with these (normalized) e-mails or lead keys;
    returns rows deleted (or scrubbed) per table. Call inside a transaction."""
    found = {r[0] for r in db.execute(f"SELECT key FROM leads WHERE key IN {_KEYS} OR email IN {_KEYS}",
                                      (json.dumps(keys + emails), json.dumps(emails)))}
    lead_keys = json.dumps(sorted(found | set(keys) | set(emails)))
    refs = db.execute(f"SELECT connection, record_id FROM lead_refs WHERE lead_key IN {_KEYS}", (lead_keys,)).fetchall()
    record_ids = json.dumps(sorted({record_id for _, record_id in refs}))
    deleted = dict.fromkeys(TABLES, 0)
    for table in _BY_LEAD_KEY:
        deleted[table] = _delete(db, table, f"lead_key IN {_KEYS}", (lead_keys,))
    for table in ("waiting_activities", "waiting_opportunities"):
        deleted[table] = sum(_delete(db, table, "connection = ? AND lead_record_id = ?", ref) for ref in refs)
    deleted["orphan_completions"] = _delete(
        db, "orphan_completions", f"lead_key IN {_KEYS} OR email IN {_KEYS} OR record_id IN {_KEYS}",
        (lead_keys, json.dumps(emails), record_ids))
    deleted["dead_letters"] = _delete(db, "dead_letters", f"record_key IN {_KEYS}",
                                      (json.dumps(json.loads(lead_keys) + json.loads(record_ids)),))
    for table in ("dead_letters", "outbox"):
        deleted[table] += sum(_delete(db, table, "id = ?", (row_id,)) for row_id in _payloads(db, table, emails, refs))
    deleted["lead_refs"] = _delete(db, "lead_refs", f"lead_key IN {_KEYS}", (lead_keys,))
    deleted["leads"] = _delete(db, "leads", f"key IN {_KEYS}", (lead_keys,))
    leads.clear_dirty(db, json.loads(lead_keys))
    return deleted

"""State operations of the data-quality gate: conflicting duplicates, releases, the leads to check."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from leadsync.core.models import Lead

__all__ = [
    "Release",
    "all_leads",
    "clear_conflicts",
    "conflicts_of",
    "lead_by_email",
    "lead_by_key",
    "leads_by_keys",
    "lead_views",
    "move_release",
    "release",
    "release_of",
    "releases_of",
    "set_conflicts",
    "conflicts_of_many",
]


@dataclass(frozen=True)
class Release:
    lead_key: str
    released_by: str
    released_at: float
    rules: list[str]
    note: str | None


def lead_views(db: sqlite3.Connection, lead_key: str) -> list[tuple[str, str, Lead]]:
    """Every record of one person as its connection reported it: (connection, record id, lead)."""
    rows = db.execute(
        "SELECT connection, record_id, data FROM lead_refs WHERE lead_key = ? ORDER BY connection, record_id",
        (lead_key,),
    ).fetchall()
    return [(r[0], r[1], Lead.model_validate_json(r[2])) for r in rows]


def set_conflicts(db: sqlite3.Connection, lead_key: str, conflicts: dict[str, list[dict[str, Any]]]) -> None:
    """Replace the recorded conflicts of one lead by field (an empty dict: its records agree)."""
    db.execute("DELETE FROM quality_conflicts WHERE lead_key = ? AND field NOT IN (SELECT value FROM json_each(?))",
               (lead_key, json.dumps(list(conflicts))))
    for name, values in conflicts.items():
        db.execute(
            "INSERT INTO quality_conflicts(lead_key, field, vals, seen_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT(lead_key, field) DO UPDATE SET vals = excluded.vals, seen_at = excluded.seen_at "
            "WHERE vals != excluded.vals",
            (lead_key, name, json.dumps(values, ensure_ascii=False), time.time()),
        )


def clear_conflicts(db: sqlite3.Connection, lead_keys: list[str]) -> None:
    """`set_conflicts(db, key, {})` for many leads: their records agree (one record each)."""
    db.executemany("DELETE FROM quality_conflicts WHERE lead_key = ?", [(k,) for k in lead_keys])


def conflicts_of(db: sqlite3.Connection, lead_key: str) -> dict[str, list[dict[str, Any]]]:
    rows = db.execute("SELECT field, vals FROM quality_conflicts WHERE lead_key = ? ORDER BY field",
                      (lead_key,)).fetchall()
    return {r[0]: json.loads(r[1]) for r in rows}


def all_leads(db: sqlite3.Connection) -> Iterator[Lead]:
    """Every merged lead, by key."""
    for row in db.execute("SELECT key, data FROM leads ORDER BY key"):
        yield Lead.model_validate_json(row[1]).model_copy(update={"key": row[0]})


def lead_by_email(db: sqlite3.Connection, email: str) -> Lead | None:
    row = db.execute("SELECT key, data FROM leads WHERE email = ? OR key = ? LIMIT 1", (email, email)).fetchone()
    return Lead.model_validate_json(row[1]).model_copy(update={"key": row[0]}) if row else None


def lead_by_key(db: sqlite3.Connection, lead_key: str) -> Lead | None:
    row = db.execute("SELECT data FROM leads WHERE key = ?", (lead_key,)).fetchone()
    return Lead.model_validate_json(row[0]).model_copy(update={"key": lead_key}) if row else None


def leads_by_keys(db: sqlite3.Connection, lead_keys: list[str]) -> list[Lead]:
    """The merged leads with these keys (one statement; keys not stored are left out)."""
    rows = db.execute("SELECT key, data FROM leads WHERE key IN (SELECT value FROM json_each(?))",
                      (json.dumps(lead_keys),)).fetchall()
    return [Lead.model_validate_json(r[1]).model_copy(update={"key": r[0]}) for r in rows]


def conflicts_of_many(db: sqlite3.Connection, lead_keys: list[str]) -> dict[str, dict[str, list[dict[str, Any]]]]:
    """`conflicts_of` for many leads at once: {lead key: {field: values}}, only leads with conflicts."""
    rows = db.execute("SELECT lead_key, field, vals FROM quality_conflicts "
                      "WHERE lead_key IN (SELECT value FROM json_each(?)) ORDER BY lead_key, field",
                      (json.dumps(lead_keys),)).fetchall()
    found: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for key, name, vals in rows:
        found.setdefault(key, {})[name] = json.loads(vals)
    return found


def releases_of(db: sqlite3.Connection, lead_keys: list[str]) -> dict[str, Release]:
    """`release_of` for many leads at once: {lead key: release}, only released leads."""
    rows = db.execute("SELECT lead_key, released_by, released_at, rules, note FROM quality_releases "
                      "WHERE lead_key IN (SELECT value FROM json_each(?))", (json.dumps(lead_keys),)).fetchall()
    return {r[0]: Release(r[0], r[1], r[2], json.loads(r[3]), r[4]) for r in rows}


def release(db: sqlite3.Connection, lead_key: str, *, by: str, rules: list[str], note: str | None = None) -> None:
    """Record that `by` let this lead through the gate now (a later release replaces it)."""
    db.execute(
        "INSERT INTO quality_releases(lead_key, released_by, released_at, rules, note) VALUES (?, ?, ?, ?, ?) "
        "ON CONFLICT(lead_key) DO UPDATE SET released_by = excluded.released_by, "
        "released_at = excluded.released_at, rules = excluded.rules, note = excluded.note",
        (lead_key, by, time.time(), json.dumps(rules), note),
    )


def move_release(db: sqlite3.Connection, old_key: str, new_key: str) -> None:
    """A lead that is gone went on as `new_key` (the same person): a release of it goes along,
    unless the new lead has its own."""
    db.execute("UPDATE quality_releases SET lead_key = ? WHERE lead_key = ? AND NOT EXISTS "
               "(SELECT 1 FROM quality_releases r WHERE r.lead_key = ?)", (new_key, old_key, new_key))
    db.execute("DELETE FROM quality_releases WHERE lead_key = ?", (old_key,))


def release_of(db: sqlite3.Connection, lead_key: str) -> Release | None:
    row = db.execute("SELECT lead_key, released_by, released_at, rules, note FROM quality_releases WHERE lead_key = ?",
                     (lead_key,)).fetchone()
    return Release(row[0], row[1], row[2], json.loads(row[3]), row[4]) if row else None

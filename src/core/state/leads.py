"""Leads and identities: each connection's view of a person (`lead_refs`) and the merged lead (`leads`)."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from collections.abc import Iterator
from typing import Any

from leadsync.core.models import Lead

__all__ = [
    "count",
    "delete",
    "digest",
    "clear_dirty",
    "dirty_keys",
    "drop_view",
    "has_other_record",
    "emails",
    "array_values",
    "field_arrays",
    "field_columns",
    "find_key",
    "keys",
    "known_lead",
    "known_leads",
    "load",
    "mark_all_dirty",
    "mark_dirty",
    "mark_dirty_many",
    "max_rowid",
    "other_views",
    "put",
    "put_many",
    "save",
    "save_many",
    "save_view",
    "save_views",
    "shared_keys",
    "stored_data",
    "stored_data_many",
    "view",
    "views",
    "views_of",
]

_CHUNK = 500  # bound parameters per IN list (far below every backend's limit)


def _chunks(values: list[str]) -> list[list[str]]:
    return [values[i:i + _CHUNK] for i in range(0, len(values), _CHUNK)]


def _marks(values: list[str]) -> str:
    return ",".join("?" * len(values))


# --- one connection's view of a person ------------------------------------------------------
def known_lead(db: sqlite3.Connection, connection: str, record_id: str) -> str | None:
    """The lead a connection's record already belongs to, if any."""
    row = db.execute(
        "SELECT lead_key FROM lead_refs WHERE connection = ? AND record_id = ?", (connection, record_id)
    ).fetchone()
    return row[0] if row else None


def known_leads(db: sqlite3.Connection, connection: str, record_ids: list[str]) -> dict[str, str]:
    """record id -> the lead it belongs to, of those of a connection's records already stored."""
    return {record_id: key for record_id, (key, _) in views_of(db, connection, record_ids).items()}


def view(db: sqlite3.Connection, connection: str, record_id: str) -> tuple[str, str] | None:
    """(lead key, view JSON) of a connection's record, or None."""
    row = db.execute(
        "SELECT lead_key, data FROM lead_refs WHERE connection = ? AND record_id = ?", (connection, record_id)
    ).fetchone()
    return (row[0], row[1]) if row else None


def save_view(db: sqlite3.Connection, connection: str, record_id: str, lead_key: str, data: str) -> None:
    db.execute(
        "INSERT INTO lead_refs(connection, record_id, lead_key, data) VALUES (?, ?, ?, ?) "
        "ON CONFLICT(connection, record_id) DO UPDATE SET lead_key = excluded.lead_key, data = excluded.data",
        (connection, record_id, lead_key, data),
    )


def drop_view(db: sqlite3.Connection, connection: str, record_id: str) -> None:
    """Forget a connection's record (the vendor deleted it or merged it away)."""
    db.execute("DELETE FROM lead_refs WHERE connection = ? AND record_id = ?", (connection, record_id))


def has_other_record(db: sqlite3.Connection, lead_key: str, connection: str, record_id: str) -> bool:
    """Whether the lead has a record of `connection` other than `record_id`."""
    return db.execute("SELECT 1 FROM lead_refs WHERE lead_key = ? AND connection = ? AND record_id <> ? LIMIT 1",
                      (lead_key, connection, record_id)).fetchone() is not None


def views_of(db: sqlite3.Connection, connection: str, record_ids: list[str]) -> dict[str, tuple[str, str]]:
    """record id -> (lead key, view JSON) of those of a connection's records already stored."""
    found: dict[str, tuple[str, str]] = {}
    for chunk in _chunks(record_ids):
        for r in db.execute(f"SELECT record_id, lead_key, data FROM lead_refs WHERE connection = ? "
                            f"AND record_id IN ({_marks(chunk)})", (connection, *chunk)).fetchall():
            found[r[0]] = (r[1], r[2])
    return found


def save_views(db: sqlite3.Connection, rows: list[tuple[str, str, str, str]]) -> None:
    """`save_view` for many (connection, record id, lead key, view JSON) rows, in order."""
    db.executemany(
        "INSERT INTO lead_refs(connection, record_id, lead_key, data) VALUES (?, ?, ?, ?) "
        "ON CONFLICT(connection, record_id) DO UPDATE SET lead_key = excluded.lead_key, data = excluded.data",
        rows,
    )


def shared_keys(db: sqlite3.Connection, refs: dict[str, tuple[str, str]]) -> set[str]:
    """Those of the lead keys (key -> its (connection, record id)) that have any other view."""
    shared: set[str] = set()
    for chunk in _chunks(list(refs)):
        for r in db.execute(f"SELECT lead_key, connection, record_id FROM lead_refs WHERE lead_key IN ({_marks(chunk)})",
                            chunk).fetchall():  # fetchall: no Python call per row
            if refs[r[0]] != (r[1], r[2]):
                shared.add(r[0])
    return shared


def views(db: sqlite3.Connection, lead_key: str) -> list[tuple[str, str]]:
    """(connection, view JSON) of every view of one lead."""
    return [(r[0], r[1]) for r in db.execute("SELECT connection, data FROM lead_refs WHERE lead_key = ?", (lead_key,))]


def other_views(db: sqlite3.Connection, lead_key: str, connection: str, record_id: str) -> list[tuple[str, str]]:
    """The lead's views but the one of (connection, record_id)."""
    return [(r[0], r[1]) for r in db.execute(
        "SELECT connection, data FROM lead_refs WHERE lead_key = ? AND NOT (connection = ? AND record_id = ?)",
        (lead_key, connection, record_id),
    )]


# --- the merged lead ---------------------------------------------------------------------------
def stored_data(db: sqlite3.Connection, key: str) -> str | None:
    """The merged lead's JSON as stored, or None."""
    row = db.execute("SELECT data FROM leads WHERE key = ?", (key,)).fetchone()
    return row[0] if row else None


def stored_data_many(db: sqlite3.Connection, keys: list[str]) -> dict[str, str]:
    """key -> the merged lead's JSON, of those keys stored."""
    found: dict[str, str] = {}
    for chunk in _chunks(keys):
        found.update(db.execute(f"SELECT key, data FROM leads WHERE key IN ({_marks(chunk)})", chunk).fetchall())
    return found


def load(db: sqlite3.Connection, key: str) -> Lead | None:
    data = stored_data(db, key)
    return Lead.model_validate_json(data) if data is not None else None


# A new row carries its `lead_source` column (what the JSON's `lead_source` says), so the insert
# trigger has nothing to rewrite; an update of `data` keeps the column right by its own trigger.
_SAVE = ("INSERT INTO leads(key, email, data, updated_at, lead_source) VALUES (?, ?, ?, ?, ?) "
         "ON CONFLICT(key) DO UPDATE SET email = excluded.email, data = excluded.data, "
         "updated_at = excluded.updated_at")
# Leads that need rescoring are rows of their own small table (migration 13), not a flag in the
# lead's row: clearing them rewrites a few pages of that table, not one page of `leads` per lead.
_DIRTY = "INSERT OR IGNORE INTO dirty_leads(key) VALUES (?)"


def save(db: sqlite3.Connection, key: str, email: str | None, data: str, lead_source: str | None) -> None:
    """Store the merged lead and mark it for rescoring; `lead_source` is the one `data` holds."""
    db.execute(_SAVE, (key, email, data, time.time(), lead_source))
    db.execute(_DIRTY, (key,))


def save_many(db: sqlite3.Connection, rows: list[tuple[str, str | None, str, str | None]]) -> None:
    """`save` for many (key, e-mail, JSON, lead source) rows, in order (one time stamp for all)."""
    now = time.time()
    db.executemany(_SAVE, [(key, email, data, now, source) for key, email, data, source in rows])
    db.executemany(_DIRTY, [(row[0],) for row in rows])


def put(db: sqlite3.Connection, lead: Lead, *, dirty: bool = True, updated_at: float | None = None) -> None:
    """Store a lead as it is, marked for rescoring unless `dirty` is False (tests, benchmarks and
    the demo fill stores this way)."""
    db.execute(
        "INSERT INTO leads(key, email, data, updated_at) VALUES (?, ?, ?, ?) "
        "ON CONFLICT(key) DO UPDATE SET email = excluded.email, data = excluded.data, "
        "updated_at = excluded.updated_at",
        (lead.key, lead.email, lead.model_dump_json(), time.time() if updated_at is None else updated_at),
    )
    db.execute(_DIRTY if dirty else "DELETE FROM dirty_leads WHERE key = ?", (lead.key,))


def put_many(db: sqlite3.Connection, rows: list[tuple[str, str | None, str, float, int]]) -> None:
    """Bulk insert of (key, email, data JSON, updated_at, dirty) rows (benchmarks)."""
    db.executemany("INSERT INTO leads(key, email, data, updated_at) VALUES (?,?,?,?)", [row[:4] for row in rows])
    db.executemany(_DIRTY, [(row[0],) for row in rows if row[4]])


def delete(db: sqlite3.Connection, key: str) -> None:
    """Forget a lead no record belongs to any more, its mark for rescoring and its current score
    (its history stays)."""
    db.execute("DELETE FROM leads WHERE key = ?", (key,))
    db.execute("DELETE FROM dirty_leads WHERE key = ?", (key,))
    db.execute("DELETE FROM scores WHERE lead_key = ?", (key,))


def mark_dirty(db: sqlite3.Connection, key: str) -> None:
    """The lead needs rescoring (nothing happens for a key no lead is stored under)."""
    mark_dirty_many(db, [key])


def mark_dirty_many(db: sqlite3.Connection, keys: list[str]) -> None:
    db.executemany("INSERT OR IGNORE INTO dirty_leads(key) SELECT key FROM leads WHERE key = ?", [(k,) for k in keys])


def mark_all_dirty(db: sqlite3.Connection) -> None:
    """Every lead needs rescoring."""
    db.execute("INSERT OR IGNORE INTO dirty_leads(key) SELECT key FROM leads")


def clear_dirty(db: sqlite3.Connection, keys: list[str] | None = None) -> None:
    """These leads (None: all) are scored as they are stored."""
    if keys is None:
        db.execute("DELETE FROM dirty_leads")
    else:
        db.execute("DELETE FROM dirty_leads WHERE key IN (SELECT value FROM json_each(?))", (json.dumps(keys),))


def dirty_keys(db: sqlite3.Connection) -> set[str]:
    return {r[0] for r in db.execute("SELECT key FROM dirty_leads").fetchall()}


def keys(db: sqlite3.Connection) -> list[str]:
    """Every lead key in storage order (the order the batch scorer indexes leads in)."""
    return [r[0] for r in db.execute("SELECT key FROM leads ORDER BY rowid")]


def emails(db: sqlite3.Connection) -> dict[str, str | None]:
    """Lead key -> e-mail of every lead."""
    return dict(db.execute("SELECT key, email FROM leads").fetchall())


def count(db: sqlite3.Connection) -> int:
    return int(db.execute("SELECT count(*) FROM leads").fetchone()[0])


def max_rowid(db: sqlite3.Connection) -> int | None:
    return db.execute("SELECT max(rowid) FROM leads").fetchone()[0]


def find_key(db: sqlite3.Connection, key: str) -> str | None:
    """The lead stored under `key`, else the first whose e-mail is `key` (case-insensitive)."""
    row = db.execute(
        "SELECT key FROM leads WHERE key = ? UNION ALL SELECT key FROM leads WHERE lower(email) = ? LIMIT 1",
        (key, key.lower()),
    ).fetchone()
    return row[0] if row else None


def field_columns(db: sqlite3.Connection, paths: list[str], keys: list[str] | None,
                  chunk: int | None = None) -> Any:
    """(rowid, key, value at each JSON path of the lead's data...) of the given leads (None: all), in
    storage (rowid) order: a list, or with `chunk` an iterator of lists of at most that many rows."""
    columns = "".join(", json_extract(data, ?)" for _ in paths)
    cursor = _in_rowid_order(db, f"SELECT rowid, key{columns} FROM leads", list(paths), keys)
    if chunk is None:
        return cursor.fetchall()
    return iter(lambda: cursor.fetchmany(chunk), [])


def _in_rowid_order(db: sqlite3.Connection, select: str, params: list[Any], keys: list[str] | None) -> Any:
    """A cursor over `select` (from leads) limited to `keys` (None: all), in storage (rowid) order."""
    if keys is not None:
        select += " WHERE key IN (SELECT value FROM json_each(?))"
        params = [*params, json.dumps(keys)]
    return db.execute(select + " ORDER BY rowid", params)


def field_arrays(db: sqlite3.Connection, paths: list[str], keys: list[str] | None, *, with_email: bool,
                 chunk: int) -> Iterator[list[tuple[int, str, str | None, str]]]:
    """(rowid, key, e-mail (None unless `with_email`), JSON array of the values at `paths`) of the
    given leads (None: all), in storage (rowid) order, at most `chunk` rows at a time. One
    json_extract with every path parses each lead's JSON once (SQLite; `array_values` gives the
    values exactly as a json_extract per path would)."""
    listed = paths if len(paths) != 1 else paths * 2  # with one path json_extract returns the value itself
    values = f"json_extract(data{', ?' * len(listed)})" if listed else "'[]'"
    email = "json_extract(data, '$.email')" if with_email else "NULL"
    cursor = _in_rowid_order(db, f"SELECT rowid, key, {email}, {values} FROM leads", list(listed), keys)
    return iter(lambda: cursor.fetchmany(chunk), [])


def array_values(db: sqlite3.Connection, text: str) -> list[Any]:
    """The elements of a JSON array as SQL values, converted as json_extract converts them (true ->
    1, an object -> its JSON text, a number -> SQLite's integer or real)."""
    return [r[0] for r in db.execute("SELECT value FROM json_each(?) ORDER BY key", (text,)).fetchall()]


def digest(db: sqlite3.Connection) -> str:
    """sha256 of every merged lead (key, e-mail, JSON, dirty) and every view (connection, record id,
    lead key, JSON), in key order: two stores that hold the same leads give the same digest (the
    write time is left out)."""
    sha = hashlib.sha256()
    for row in db.execute("SELECT key, email, data, CASE WHEN EXISTS (SELECT 1 FROM dirty_leads d WHERE d.key = "
                          "leads.key) THEN 1 ELSE 0 END FROM leads ORDER BY key"):
        sha.update(json.dumps(list(row), ensure_ascii=False).encode() + b"\n")
    for row in db.execute("SELECT connection, record_id, lead_key, data FROM lead_refs ORDER BY connection, record_id"):
        sha.update(json.dumps(list(row), ensure_ascii=False).encode() + b"\n")
    return sha.hexdigest()

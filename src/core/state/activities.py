"""Activities: what leads did, one row per (connection, source id)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, NamedTuple

from leadsync.core.models import Activity

__all__ = [
    "Packed",
    "first_touch",
    "for_lead",
    "put",
    "put_many",
    "recent",
    "remove",
    "rowid_range",
    "save",
    "save_many",
    "scan",
    "scan_packed",
    "stored_data",
    "stored_data_many",
]

_CHUNK = 500  # bound parameters per IN list

# Every write sets `lead_id` (the lead's rowid, NULL while the lead is not stored) in its own
# statement, from the lead key bound a second time; triggers (migration 6) keep it right afterwards.
_LEAD_ID = "(SELECT l.rowid FROM leads l WHERE l.key = ?)"
_UPSERT = (
    "INSERT INTO activities(connection, source_id, lead_key, type, occurred_at, url, data, lead_id) "
    f"VALUES (?, ?, ?, ?, ?, ?, ?, {_LEAD_ID}) "
    "ON CONFLICT(connection, source_id) DO UPDATE SET lead_key = excluded.lead_key, type = excluded.type, "
    "occurred_at = excluded.occurred_at, url = excluded.url, data = excluded.data, lead_id = excluded.lead_id"
)


def stored_data(db: sqlite3.Connection, connection: str, source_id: str) -> str | None:
    row = db.execute(
        "SELECT data FROM activities WHERE connection = ? AND source_id = ?", (connection, source_id)
    ).fetchone()
    return row[0] if row else None


def stored_data_many(db: sqlite3.Connection, connection: str, source_ids: list[str]) -> dict[str, str]:
    """source id -> stored JSON, of those of a connection's activities already stored."""
    found: dict[str, str] = {}
    for i in range(0, len(source_ids), _CHUNK):
        chunk = source_ids[i:i + _CHUNK]
        marks = ",".join("?" * len(chunk))
        found.update(db.execute(f"SELECT source_id, data FROM activities WHERE connection = ? AND source_id IN ({marks})",
                                (connection, *chunk)).fetchall())
    return found


def remove(db: sqlite3.Connection, connection: str, source_ids: list[str]) -> list[str]:
    """Delete these activities of a connection, if stored; returns the keys of the leads they were under."""
    keys: list[str] = []
    for source_id in source_ids:
        row = db.execute("SELECT lead_key FROM activities WHERE connection = ? AND source_id = ?",
                         (connection, source_id)).fetchone()
        if row is not None:
            keys.append(row[0])
            db.execute("DELETE FROM activities WHERE connection = ? AND source_id = ?", (connection, source_id))
    return keys


def save_many(db: sqlite3.Connection, rows: list[tuple[Activity, str]]) -> None:
    """`save` for many (activity, JSON) rows, in order."""
    db.executemany(
        _UPSERT,
        [(a.connection, a.source_id, a.lead_key, a.type.value, a.occurred_at.timestamp(), a.url, data, a.lead_key)
         for a, data in rows],
    )


def save(db: sqlite3.Connection, activity: Activity, data: str) -> None:
    """Insert or replace the activity (its `connection` and `lead_key` set); `data` is its JSON."""
    db.execute(
        _UPSERT,
        (activity.connection, activity.source_id, activity.lead_key, activity.type.value,
         activity.occurred_at.timestamp(), activity.url, data, activity.lead_key),
    )


def put(db: sqlite3.Connection, activity: Activity) -> bool:
    """Store an activity unless (connection, source id) is already stored (tests and the demo)."""
    cursor = db.execute(
        "INSERT OR IGNORE INTO activities(connection, source_id, lead_key, type, occurred_at, url, data, lead_id) "
        f"VALUES (?, ?, ?, ?, ?, ?, ?, {_LEAD_ID})",
        (activity.connection or "test", activity.source_id, activity.lead_key, activity.type.value,
         activity.occurred_at.timestamp(), activity.url, activity.model_dump_json(), activity.lead_key),
    )
    return cursor.rowcount == 1


def put_many(db: sqlite3.Connection, rows: Sequence[tuple[Any, ...]], *, ignore_existing: bool = False) -> None:
    """Bulk insert of (connection, source_id, lead_key, type, occurred_at, url, data) rows (benchmarks)."""
    verb = "INSERT OR IGNORE" if ignore_existing else "INSERT"
    db.executemany(f"{verb} INTO activities(connection, source_id, lead_key, type, occurred_at, url, data, lead_id) "
                   f"VALUES (?,?,?,?,?,?,?,{_LEAD_ID})", ((*row, row[2]) for row in rows))


def for_lead(db: sqlite3.Connection, lead_key: str) -> list[Activity]:
    """All activities of a lead, in time, then insertion order."""
    rows = db.execute("SELECT data FROM activities WHERE lead_key = ? ORDER BY occurred_at, rowid", (lead_key,))
    return [Activity.model_validate_json(r[0]) for r in rows]


def recent(db: sqlite3.Connection, lead_key: str, limit: int, before: float | None = None) -> list[Activity]:
    """The lead's latest activities, newest first (not after `before` when given)."""
    rows = db.execute(
        "SELECT data FROM activities WHERE lead_key = ? AND occurred_at <= ? ORDER BY occurred_at DESC, source_id LIMIT ?",
        (lead_key, float("inf") if before is None else before, limit),
    )
    return [Activity.model_validate_json(row[0]) for row in rows]


def first_touch(db: sqlite3.Connection, lead_key: str, after: float, until: float) -> float | None:
    """Epoch of the lead's first call or meeting in [after, until], the rep's first touch."""
    row = db.execute(
        "SELECT MIN(occurred_at) FROM activities WHERE lead_key = ? AND type IN ('call', 'meeting') "
        "AND occurred_at >= ? AND occurred_at <= ?",
        (lead_key, after, until),
    ).fetchone()
    return row[0] if row and row[0] is not None else None


def rowid_range(db: sqlite3.Connection) -> tuple[int | None, int | None]:
    """(lowest, highest) row id of activities; two subqueries, each one index step (together in one
    aggregate, SQLite would read every row)."""
    low, high = db.execute("SELECT (SELECT min(rowid) FROM activities), (SELECT max(rowid) FROM activities)").fetchone()
    return low, high


def scan(
    db: sqlite3.Connection,
    *,
    type_codes: Mapping[str, int],
    url_types: Sequence[str],
    since: float,
    keys: list[str] | None = None,
    rowid_range: tuple[int, int] | None = None,
    chunk: int,
) -> Iterator[list[tuple[int, int, float, str | None, str]]]:
    """Activities after `since` of stored leads as (lead id, type code, time, url, source id, row id)
    rows, `chunk` at a time, in storage order. Type names become codes inside SQLite (no Python string
    per row for the type); the URL is only read for `url_types` (NULL otherwise)."""
    type_case = "CASE type " + " ".join(f"WHEN '{name}' THEN {code}" for name, code in type_codes.items()) + " ELSE -1 END"
    url_column = ("CASE WHEN type IN (" + ",".join(f"'{t}'" for t in url_types) + ") THEN url END") if url_types else "NULL"
    sql = (f"SELECT lead_id, {type_case}, occurred_at, {url_column}, source_id, rowid FROM activities "
           "WHERE occurred_at > ? AND lead_id IS NOT NULL")
    params: list[Any] = [since]
    if keys is not None:
        sql += " AND lead_key IN (SELECT value FROM json_each(?))"
        params.append(json.dumps(keys))
    if rowid_range is not None:
        sql += f" AND rowid BETWEEN {int(rowid_range[0])} AND {int(rowid_range[1])}"
    cursor = db.execute(sql + " ORDER BY rowid", params)
    while rows := cursor.fetchmany(chunk):
        yield rows


# Times cross into Python as integers: occurred_at * 2**22 is exact for every epoch after 2004
# (a double's spacing there is at most 2**-22 s), so nothing is lost; older rows are flagged.
TIME_SCALE = 4194304.0
_SEP = "char(30)"
_TOOBIG = 18  # SQLITE_TOOBIG: a string longer than SQLITE_LIMIT_LENGTH (1e9 bytes unless lowered)


class Packed(NamedTuple):
    """A scan's rows packed into text columns: integers joined by commas, URLs (empty unless the
    type is in the scan's `url_types`) and source ids joined by U+001E."""

    count: int
    rowids: str  # empty for a scan of a row-id range (its rows come in row-id order)
    lead_ids: str
    types: str
    times: str  # occurred_at * 2**22
    urls: str
    source_ids: str
    inexact: bool  # a time is not a multiple of 2**-22 s


def scan_packed(
    db: sqlite3.Connection,
    *,
    type_codes: Mapping[str, int],
    url_types: Sequence[str],
    since: float,
    rowid_range: tuple[int, int] | None = None,
    keys: list[str] | None = None,
) -> Packed | None:
    """Activities of stored leads after `since`, packed into one row instead of one per activity:
    those with row ids in `rowid_range`, read from the table in row-id order, or those of the leads
    `keys`, read from the index on an activity's lead alone (in its order, so each row's id is given).
    None when a packed column would be longer than SQLite allows for one string (the caller reads
    those rows one by one)."""
    type_case = "CASE type " + " ".join(f"WHEN '{name}' THEN {code}" for name, code in type_codes.items()) + " ELSE -1 END"
    url_column = ("CASE WHEN type IN (" + ",".join(f"'{t}'" for t in url_types) + ") THEN coalesce(url, '') ELSE '' END"
                  if url_types else "''")
    scaled = f"occurred_at * {TIME_SCALE}"
    if keys is not None:
        rowids, where, selection = "group_concat(rowid, ',')", "lead_key IN (SELECT value FROM json_each(?))", json.dumps(keys)
        params: tuple[Any, ...] = (since, selection)
    elif rowid_range is not None:
        rowids, where = "''", "rowid BETWEEN ? AND ?"
        params = (since, int(rowid_range[0]), int(rowid_range[1]))
    else:
        raise ValueError("scan_packed needs rowid_range or keys")
    try:
        row = db.execute(
            f"SELECT count(*), coalesce({rowids}, ''), coalesce(group_concat(lead_id, ','), ''), "
            f"coalesce(group_concat({type_case}, ','), ''), coalesce(group_concat(CAST({scaled} AS INTEGER), ','), ''), "
            f"coalesce(group_concat({url_column}, {_SEP}), ''), coalesce(group_concat(source_id, {_SEP}), ''), "
            f"coalesce(max({scaled} != CAST({scaled} AS INTEGER)), 0) "
            f"FROM activities WHERE occurred_at > ? AND lead_id IS NOT NULL AND {where}", params).fetchone()
    except sqlite3.DataError as exc:
        if getattr(exc, "sqlite_errorcode", None) != _TOOBIG:
            raise
        return None
    return Packed(int(row[0]), row[1], row[2], row[3], row[4], row[5], row[6], bool(row[7]))

"""Reading leads and activities from the state store: as models (one lead) or as columns (batch)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from itertools import repeat
from typing import Any

import numpy as np

from leadsync.core.models import Activity, Lead
from leadsync.core.normalize import parse_employees
from leadsync.core.scoring.batch import TYPE_CODES, ActivityColumns, UrlClassifier
from leadsync.core.scoring.rules import FieldCondition
from leadsync.core.scoring.sheet import ScoringSheet
from leadsync.core.state.store import StateStore

__all__ = ["CHUNK", "iter_lead_models", "lead_fields", "load_activities", "load_lead", "load_lead_columns"]

CHUNK = 200_000


def load_lead(store: StateStore, key: str) -> tuple[Lead, list[Activity]] | None:
    """One lead and all its activities (in time, then insertion order), or None."""
    row = store.db.execute("SELECT data FROM leads WHERE key = ?", (key,)).fetchone()
    if row is None:
        return None
    lead = Lead.model_validate_json(row[0])
    if not lead.key:
        lead = lead.model_copy(update={"key": key})
    rows = store.db.execute(
        "SELECT data FROM activities WHERE lead_key = ? ORDER BY occurred_at, rowid", (key,)
    ).fetchall()
    return lead, [Activity.model_validate_json(r[0]) for r in rows]


def iter_lead_models(store: StateStore, keys: list[str] | None) -> Iterator[tuple[Lead, list[Activity]]]:
    """Leads with their activities, for the per-lead path (sheets with plugin conditions)."""
    if keys is None:
        keys = [r[0] for r in store.db.execute("SELECT key FROM leads ORDER BY rowid")]
    for key in keys:
        found = load_lead(store, key)
        if found is not None:
            yield found


def lead_fields(sheet: ScoringSheet) -> list[str]:
    return sorted({r.condition.field for r in sheet.rules if isinstance(r.condition, FieldCondition)})


def _json_path(name: str) -> str:
    if name.startswith("custom."):
        return '$.custom."' + name[7:].replace('"', '\\"') + '"'
    return "$." + name


def load_lead_columns(store: StateStore, sheet: ScoringSheet, keys: list[str] | None
                      ) -> tuple[list[str], list[str | None], dict[str, list[Any]]]:
    """(keys, emails, field values) of the given leads (None: all), read with SQLite's JSON functions."""
    wanted = lead_fields(sheet)
    paths: list[str] = ["$.email"]
    for name in wanted:
        if name == "employees":
            paths += ["$.employees", "$.employees_text"]
        elif name != "email_domain":
            paths.append(_json_path(name))
    columns = ", ".join(f"json_extract(data, ?)" for _ in paths)
    sql = f"SELECT key, {columns} FROM leads"
    params: list[Any] = list(paths)
    if keys is not None:
        sql += " WHERE key IN (SELECT value FROM json_each(?))"
        params.append(json.dumps(keys))
    rows = store.db.execute(sql + " ORDER BY rowid", params).fetchall()
    out_keys = [r[0] for r in rows]
    emails = [r[1] for r in rows]
    values: dict[str, list[Any]] = {}
    position = 2
    for name in wanted:
        if name == "employees":
            parsed: dict[str | None, int | None] = {None: None}
            values[name] = [
                r[position] if r[position] is not None
                else parsed[r[position + 1]] if r[position + 1] in parsed
                else parsed.setdefault(r[position + 1], parse_employees(r[position + 1]))
                for r in rows
            ]
            position += 2
        elif name == "email_domain":
            values[name] = [e.rsplit("@", 1)[-1].lower() if e and "@" in e else None for e in emails]
        else:
            values[name] = [r[position] for r in rows]
            position += 1
    return out_keys, emails, values


def load_activities(store: StateStore, sheet: ScoringSheet, index: dict[str, int], since: float,
                    keys: list[str] | None) -> ActivityColumns:
    """Activity columns after `since` (future ones included), read in chunks; sorted for scoring."""
    urls = UrlClassifier(sheet)
    # SQLite maps type names to codes in C: no Python string per row for the type.
    type_case = "CASE type " + " ".join(f"WHEN '{name}' THEN {code}" for name, code in TYPE_CODES.items()) + " ELSE -1 END"
    url_column = "url" if urls.needed else "NULL"
    sql = f"SELECT lead_key, {type_case}, occurred_at, {url_column}, rowid FROM activities WHERE occurred_at > ?"
    params: list[Any] = [since]
    if keys is not None:
        sql += " AND lead_key IN (SELECT value FROM json_each(?))"
        params.append(json.dumps(keys))
    cursor = store.db.execute(sql, params)
    parts: list[tuple[np.ndarray, ...]] = []
    lookup = index.get
    bits_type = np.uint8 if len(urls.conditions) <= 8 else np.uint32 if len(urls.conditions) <= 32 else np.uint64
    while rows := cursor.fetchmany(CHUNK):
        lead_keys, types, times, url_values, rowids = zip(*rows, strict=True)
        size = len(rows)
        del rows
        lead = np.fromiter(map(lookup, lead_keys, repeat(-1, size)), np.int32, size)
        typ = np.array(types, np.int8)
        bits = (np.fromiter(map(urls.bits, url_values), bits_type, size) if urls.needed
                else np.zeros(size, np.uint8))
        parts.append((lead, typ, np.array(times, np.float64), bits, np.array(rowids, np.int64)))
    if not parts:
        return ActivityColumns.empty()
    merged = [np.concatenate(column) for column in zip(*parts, strict=True)]
    parts.clear()
    return ActivityColumns(*merged).sorted()

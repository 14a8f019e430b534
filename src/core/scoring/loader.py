"""Reading leads and activities from the state store: as models (one lead) or as columns (batch)."""

from __future__ import annotations

import json
import logging
import multiprocessing
import os
import sqlite3
from bisect import bisect_right
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

import numpy as np
from leadsync.core.models import Activity, Lead
from leadsync.core.normalize import parse_employees
from leadsync.core.scoring.batch import TYPE_CODES, ActivityColumns, UrlClassifier
from leadsync.core.scoring.rules import FieldCondition
from leadsync.core.scoring.sheet import ScoringSheet
from leadsync.core.state.store import StateStore

__all__ = ["CHUNK", "iter_lead_models", "lead_fields", "load_activities", "load_lead", "load_lead_columns"]

log = logging.getLogger(__name__)

CHUNK = 200_000
# Full scans of more activity rows than this read two halves in parallel.
PARALLEL_MIN_ROWS = 2_000_000


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
    columns = ", ".join("json_extract(data, ?)" for _ in paths)
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


class SourceIds:
    """The source ids of scanned activities by scan position, kept compactly (one string per chunk)."""

    def __init__(self) -> None:
        self._starts: list[int] = []
        self._texts: list[str] = []
        self._offsets: list[np.ndarray] = []
        self.size = 0

    def add(self, ids: list[str]) -> None:
        self.add_joined("".join(ids), np.fromiter(map(len, ids), np.int64, len(ids)))

    def add_joined(self, text: str, lengths: np.ndarray) -> None:
        offsets = np.zeros(len(lengths) + 1, np.int64)
        np.cumsum(lengths, out=offsets[1:])
        self._starts.append(self.size)
        self._texts.append(text)
        self._offsets.append(offsets)
        self.size += len(lengths)

    def get(self, position: int) -> str:
        chunk = bisect_right(self._starts, position) - 1
        offsets, local = self._offsets[chunk], position - self._starts[chunk]
        return self._texts[chunk][offsets[local]:offsets[local + 1]]


def _activity_sql(urls: UrlClassifier, keys: list[str] | None, rowid_range: tuple[int, int] | None) -> str:
    # SQLite maps type names to codes in C: no Python string per row for the type; the URL is
    # only read for the types a URL pattern applies to.
    type_case = "CASE type " + " ".join(f"WHEN '{name}' THEN {code}" for name, code in TYPE_CODES.items()) + " ELSE -1 END"
    url_types = sorted({t for c in urls.conditions for t in c.types})
    url_column = ("CASE WHEN type IN (" + ",".join(f"'{t}'" for t in url_types) + ") THEN url END") if url_types else "NULL"
    sql = f"SELECT lead_key, {type_case}, occurred_at, {url_column}, source_id FROM activities WHERE occurred_at > ?"
    if keys is not None:
        sql += " AND lead_key IN (SELECT value FROM json_each(?))"
    if rowid_range is not None:
        sql += f" AND rowid BETWEEN {int(rowid_range[0])} AND {int(rowid_range[1])}"
    return sql + " ORDER BY rowid"


_Part = list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, str, np.ndarray]]


def _scan(db: sqlite3.Connection, sql: str, params: list[Any], index: dict[str, int], urls: UrlClassifier) -> _Part:
    """(lead, type, time, url bits, joined source ids, their lengths) per chunk of the scan."""
    parts: _Part = []
    lookup, bits_of = index.get, urls.bits
    bits_type = np.uint8 if len(urls.conditions) <= 8 else np.uint32 if len(urls.conditions) <= 32 else np.uint64
    cursor = db.execute(sql, params)
    # Column lists by comprehension: zip(*rows) is several times slower on big chunks.
    while rows := cursor.fetchmany(CHUNK):
        size = len(rows)
        ids = [r[4] for r in rows]
        parts.append((
            np.fromiter([lookup(r[0], -1) for r in rows], np.int32, size),
            np.fromiter([r[1] for r in rows], np.int8, size),
            np.fromiter([r[2] for r in rows], np.float64, size),
            np.fromiter([bits_of(r[3]) for r in rows], bits_type, size) if urls.needed else np.zeros(size, np.uint8),
            "".join(ids),
            np.fromiter(map(len, ids), np.int64, size),
        ))
    return parts


def _scan_in_child(path: str, sheet: ScoringSheet, since: float, rowid_range: tuple[int, int]) -> _Part:
    """The second half of a full scan, in another process (the machine has more than one core)."""
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        keys = [r[0] for r in db.execute("SELECT key FROM leads ORDER BY rowid")]
        index = {key: i for i, key in enumerate(keys)}
        del keys
        urls = UrlClassifier(sheet)
        return _scan(db, _activity_sql(urls, None, rowid_range), [since], index, urls)
    finally:
        db.close()


def load_activities(store: StateStore, sheet: ScoringSheet, index: dict[str, int], since: float,
                    keys: list[str] | None) -> tuple[ActivityColumns, SourceIds]:
    """Activity columns after `since` (future ones included), read in chunks and sorted for scoring.

    `rowid` of the columns is the scan position (the scan runs in row-id order, so it breaks ties
    the same way); the returned SourceIds maps it to the activity's source id. A full scan of a
    big store on disk is split in two halves by row id, the second read by a child process.
    """
    urls = UrlClassifier(sheet)
    low, high = store.db.execute("SELECT min(rowid), max(rowid) FROM activities").fetchone()
    parts: _Part
    parallel = "fork" in multiprocessing.get_all_start_methods() and (os.cpu_count() or 1) > 1
    if parallel and keys is None and store.path is not None and low is not None and high - low > PARALLEL_MIN_ROWS:
        middle = (low + high) // 2
        # fork: the child needs no re-import of __main__; it opens its own read-only connection.
        with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("fork")) as pool:
            second = pool.submit(_scan_in_child, str(store.path), sheet, since, (middle + 1, high))
            parts = _scan(store.db, _activity_sql(urls, None, (low, middle)), [since], index, urls)
            try:
                parts += second.result()
            except BrokenProcessPool:  # the child died (memory?): read its half here
                log.warning("parallel activity scan failed; reading the second half in this process")
                parts += _scan(store.db, _activity_sql(urls, None, (middle + 1, high)), [since], index, urls)
    else:
        params: list[Any] = [since] + ([json.dumps(keys)] if keys is not None else [])
        parts = _scan(store.db, _activity_sql(urls, keys, None), params, index, urls)
    source_ids = SourceIds()
    for part in parts:
        source_ids.add_joined(part[4], part[5])
    if not parts:
        return ActivityColumns.empty(), source_ids
    columns = [np.concatenate([part[i] for part in parts]) for i in range(4)]
    parts.clear()
    return ActivityColumns(*columns, np.arange(source_ids.size, dtype=np.int64)).sorted(), source_ids

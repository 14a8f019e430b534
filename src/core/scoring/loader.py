"""Reading leads and activities from the state store: as models (one lead) or as columns (batch)."""

from __future__ import annotations

import logging
import multiprocessing
import os
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
from leadsync.core.state import activities, leads
from leadsync.core.state.store import StateStore, connect_readonly

__all__ = ["CHUNK", "iter_lead_models", "lead_fields", "load_activities", "load_lead", "load_lead_columns"]

log = logging.getLogger(__name__)

CHUNK = 200_000
# Full scans of more activity rows than this read two halves in parallel.
PARALLEL_MIN_ROWS = 2_000_000


def load_lead(store: StateStore, key: str) -> tuple[Lead, list[Activity]] | None:
    """One lead and all its activities (in time, then insertion order), or None."""
    lead = leads.load(store.db, key)
    if lead is None:
        return None
    if not lead.key:
        lead = lead.model_copy(update={"key": key})
    return lead, activities.for_lead(store.db, key)


def iter_lead_models(store: StateStore, keys: list[str] | None) -> Iterator[tuple[Lead, list[Activity]]]:
    """Leads with their activities, for the per-lead path (sheets with plugin conditions)."""
    if keys is None:
        keys = leads.keys(store.db)
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
    rows = leads.field_columns(store.db, paths, keys)
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


_Part = list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, str, np.ndarray]]


def _scan(db: Any, since: float, index: dict[str, int], urls: UrlClassifier, keys: list[str] | None = None,
          rowid_range: tuple[int, int] | None = None) -> _Part:
    """(lead, type, time, url bits, joined source ids, their lengths) per chunk of the scan."""
    parts: _Part = []
    lookup, bits_of = index.get, urls.bits
    bits_type = np.uint8 if len(urls.conditions) <= 8 else np.uint32 if len(urls.conditions) <= 32 else np.uint64
    url_types = sorted({t for c in urls.conditions for t in c.types})
    chunks = activities.scan(db, type_codes=TYPE_CODES, url_types=url_types, since=since, keys=keys,
                             rowid_range=rowid_range, chunk=CHUNK)
    # Column lists by comprehension: zip(*rows) is several times slower on big chunks.
    for rows in chunks:
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
    db = connect_readonly(path)
    try:
        keys = leads.keys(db)
        index = {key: i for i, key in enumerate(keys)}
        del keys
        urls = UrlClassifier(sheet)
        return _scan(db, since, index, urls, rowid_range=rowid_range)
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
    low, high = activities.rowid_range(store.db)
    parts: _Part
    parallel = "fork" in multiprocessing.get_all_start_methods() and (os.cpu_count() or 1) > 1
    if parallel and keys is None and store.dialect == "sqlite" and store.path is not None and low is not None and high - low > PARALLEL_MIN_ROWS:
        middle = (low + high) // 2
        # fork: the child needs no re-import of __main__; it opens its own read-only connection.
        with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("fork")) as pool:
            second = pool.submit(_scan_in_child, str(store.path), sheet, since, (middle + 1, high))
            parts = _scan(store.db, since, index, urls, rowid_range=(low, middle))
            try:
                parts += second.result()
            except BrokenProcessPool:  # the child died (memory?): read its half here
                log.warning("parallel activity scan failed; reading the second half in this process")
                parts += _scan(store.db, since, index, urls, rowid_range=(middle + 1, high))
    else:
        parts = _scan(store.db, since, index, urls, keys=keys)
    source_ids = SourceIds()
    for part in parts:
        source_ids.add_joined(part[4], part[5])
    if not parts:
        return ActivityColumns.empty(), source_ids
    columns = [np.concatenate([part[i] for part in parts]) for i in range(4)]
    parts.clear()
    return ActivityColumns(*columns, np.arange(source_ids.size, dtype=np.int64)).sorted(), source_ids

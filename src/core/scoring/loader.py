"""Reading leads and activities from the state store: as models (one lead) or as columns (batch)."""

from __future__ import annotations

import json
from bisect import bisect_right
from collections.abc import Iterator
from typing import Any, NamedTuple

import numpy as np
from leadsync.core.models import Activity, Lead
from leadsync.core.normalize import parse_employees
from leadsync.core.scoring.batch import TYPE_CODES, ActivityColumns, UrlClassifier
from leadsync.core.scoring.rules import FieldCondition
from leadsync.core.scoring.sheet import ScoringSheet
from leadsync.core.state import activities, leads
from leadsync.core.state.store import StateStore

__all__ = ["CHUNK", "LeadColumns", "LeadIndex", "iter_lead_models", "lead_fields", "load_activities", "load_lead",
           "load_lead_columns"]

CHUNK = 200_000
LEAD_CHUNK = 50_000


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


Factorized = tuple[np.ndarray, list[Any]]  # (code per lead, distinct values): value i = distinct[codes[i]]


class _Factorizer:
    """Builds a factorized column chunk by chunk (one int32 per lead, each distinct value once)."""

    def __init__(self) -> None:
        self.code_of: dict[Any, int] = {}
        self.codes: list[np.ndarray] = []

    def add(self, values: list[Any]) -> None:
        code_of = self.code_of
        for value in dict.fromkeys(values):
            code_of.setdefault(value, len(code_of))
        self.codes.append(np.fromiter(map(code_of.__getitem__, values), np.int32, len(values)))

    def result(self) -> Factorized:
        codes = np.concatenate(self.codes) if self.codes else np.zeros(0, np.int32)
        return codes, list(self.code_of)


class LeadColumns(NamedTuple):
    """The leads a rescore reads, in rowid order: keys, e-mails (maybe empty), factorized field
    values, and rowids (what `activities.lead_id` holds)."""

    keys: list[str]
    emails: list[str | None]
    fields: dict[str, Factorized]
    ids: np.ndarray


def load_lead_columns(store: StateStore, sheet: ScoringSheet, keys: list[str] | None, *, with_emails: bool = True
                      ) -> LeadColumns:
    """The given leads (None: all), their field values read with SQLite's JSON functions chunk by
    chunk. Without `with_emails` the e-mail list is empty (unless a rule needs it).

    On SQLite each lead's JSON is parsed once for all fields (`leads.field_arrays`) and each
    distinct array of values is decoded once; PostgreSQL reads a column per field."""
    wanted = lead_fields(sheet)
    need_emails = with_emails or "email_domain" in wanted
    paths: list[str] = []
    columns: list[tuple[str, int]] = []  # (field, position of its first value in a lead's values)
    for name in wanted:
        if name == "email_domain":
            continue
        columns.append((name, len(paths)))
        paths += ["$.employees", "$.employees_text"] if name == "employees" else [_json_path(name)]
    out_keys: list[str] = []
    emails: list[str | None] = []
    ids: list[np.ndarray] = []
    domains = _Factorizer()
    code_of: dict[Any, int] = {}  # the values of a lead (JSON array text, or a tuple) -> a code
    codes: list[np.ndarray] = []
    for rowids, chunk_keys, chunk_emails, values in _lead_rows(store, paths, keys, need_emails):
        ids.append(np.fromiter(rowids, np.int64, len(rowids)))
        out_keys += chunk_keys
        emails += chunk_emails
        for value in dict.fromkeys(values):
            code_of.setdefault(value, len(code_of))
        codes.append(np.fromiter(map(code_of.__getitem__, values), np.int32, len(values)))
        if "email_domain" in wanted:
            domains.add([e.rsplit("@", 1)[-1].lower() if e and "@" in e else None for e in chunk_emails])
    lead_codes = np.concatenate(codes) if codes else np.zeros(0, np.int32)
    decoded = [_decoded(store, value) for value in code_of]
    fields: dict[str, Factorized] = {}
    for name, at in columns:
        if name == "employees":  # the stored count, else the count parsed from the text
            per_code = [v[at] if v[at] is not None else parse_employees(v[at + 1]) for v in decoded]
        else:
            per_code = [v[at] for v in decoded]
        factor = _Factorizer()
        factor.add(per_code)
        value_codes, distinct = factor.result()
        fields[name] = (value_codes[lead_codes], distinct)
    if "email_domain" in wanted:
        fields["email_domain"] = domains.result()
    return LeadColumns(out_keys, emails if with_emails else [], fields,
                       np.concatenate(ids) if ids else np.zeros(0, np.int64))


def _lead_rows(store: StateStore, paths: list[str], keys: list[str] | None, with_email: bool
               ) -> Iterator[tuple[list[int], list[str], list[str | None], list[Any]]]:
    """Per chunk: rowids, keys, e-mails (empty unless asked) and each lead's values (SQLite: one
    JSON array text; PostgreSQL: a tuple)."""
    if store.dialect == "sqlite":
        for rows in leads.field_arrays(store.db, paths, keys, with_email=with_email, chunk=LEAD_CHUNK):
            yield ([r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows] if with_email else [],
                   [r[3] for r in rows])
        return
    for rows in leads.field_columns(store.db, ["$.email", *paths], keys, chunk=LEAD_CHUNK):
        yield ([r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows] if with_email else [],
               [tuple(r[3:]) for r in rows])


def _decoded(store: StateStore, value: Any) -> list[Any]:
    """A lead's field values: a tuple as it is; a JSON array by json.loads when every element is a
    string, an int64 or null (what SQLite would give), else by SQLite itself."""
    if isinstance(value, tuple):
        return list(value)
    found = json.loads(value)
    if all(v is None or type(v) is str or (type(v) is int and -2**63 <= v < 2**63) for v in found):
        return found
    return leads.array_values(store.db, value)


class LeadIndex:
    """Lead rowid -> position in a `LeadColumns` (-1: not among them); rowids ascending."""

    def __init__(self, ids: np.ndarray) -> None:
        self.ids = ids
        top = int(ids[-1]) if len(ids) else 0
        self._table: np.ndarray | None = None
        if top <= 4 * len(ids) + 65536:  # dense enough: one int32 per possible rowid
            self._table = np.full(top + 1, -1, np.int32)
            self._table[ids] = np.arange(len(ids), dtype=np.int32)

    def __call__(self, lead_ids: np.ndarray) -> np.ndarray:
        if self._table is not None:
            inside = (lead_ids >= 0) & (lead_ids < len(self._table))
            if bool(inside.all()):
                return self._table[lead_ids]
            return np.where(inside, self._table[np.where(inside, lead_ids, 0)], -1).astype(np.int32)
        at = np.searchsorted(self.ids, lead_ids)
        found = at < len(self.ids)
        found[found] = self.ids[at[found]] == lead_ids[found]
        return np.where(found, at, -1).astype(np.int32)


class SourceIds:
    """The source ids of scanned activities by scan position, kept compactly (one string per chunk)."""

    def __init__(self) -> None:
        self._starts: list[int] = []
        self._texts: list[str] = []
        self._offsets: list[np.ndarray] = []
        self._gaps: list[int] = []
        self.size = 0

    def add(self, ids: list[str]) -> None:
        self.add_joined("".join(ids), np.fromiter(map(len, ids), np.int64, len(ids)))

    def add_joined(self, text: str, lengths: np.ndarray) -> None:
        """Ids concatenated without separator, with their lengths."""
        offsets = np.zeros(len(lengths) + 1, np.int64)
        np.cumsum(lengths, out=offsets[1:])
        offsets = offsets.astype(np.int32) if offsets[-1] < 2**31 else offsets
        self._append(text, offsets, 0)

    def add_separated(self, text: str, count: int) -> bool:
        """`count` ids joined by U+001E; False (nothing added) when the text holds another number of them."""
        if text.isascii():
            ends = np.flatnonzero(np.frombuffer(text.encode("ascii"), np.uint8) == 30)
        else:
            ends = (np.cumsum(np.fromiter(map(len, text.split(_SEP)), np.int64) + 1) - 1)[:-1]
        if len(ends) != count - 1:
            return False
        offsets = np.empty(count + 1, np.int32 if len(text) < 2**31 - 1 else np.int64)
        offsets[0] = 0
        offsets[1:count] = ends + 1
        offsets[count] = len(text) + 1
        self._append(text, offsets, 1)
        return True

    def _append(self, text: str, offsets: np.ndarray, gap: int) -> None:
        self._starts.append(self.size)
        self._texts.append(text)
        self._offsets.append(offsets)
        self._gaps.append(gap)
        self.size += len(offsets) - 1

    def _freeze(self) -> None:
        """One text for all chunks, each id followed by one separator, and one offsets array (so a
        lookup is one slice, whatever chunk the id came from)."""
        pieces: list[str] = []
        offsets: list[np.ndarray] = []
        base = 0
        for text, chunk_offsets, gap in zip(self._texts, self._offsets, self._gaps, strict=True):
            if gap == 0:  # ids concatenated without separator: separate them
                ids = [text[a:b] for a, b in zip(chunk_offsets[:-1].tolist(), chunk_offsets[1:].tolist(), strict=True)]
                text = _SEP.join(ids)
                chunk_offsets = np.zeros(len(ids) + 1, np.int64)
                np.cumsum(np.fromiter(map(len, ids), np.int64, len(ids)) + 1, out=chunk_offsets[1:])
            offsets.append(chunk_offsets[:-1].astype(np.int64) + base)
            pieces += [text, _SEP]
            base += len(text) + 1
        offsets.append(np.array([base], np.int64))
        joined = np.concatenate(offsets)
        self._offsets = [joined.astype(np.int32) if base < 2**31 else joined]
        self._texts = ["".join(pieces)]
        del pieces
        self._starts, self._gaps = [0], [1]

    def get_many(self, positions: np.ndarray) -> np.ndarray:
        """The source ids at these scan positions (an object array of str)."""
        if len(self._texts) > 1:
            self._freeze()
        positions = np.asarray(positions, np.int64)
        result = np.empty(len(positions), object)
        if len(positions):
            offsets, text, gap = self._offsets[0], self._texts[0], self._gaps[0]
            ends = (offsets[positions + 1] - gap).tolist()
            result[:] = [text[a:b] for a, b in zip(offsets[positions].tolist(), ends, strict=True)]
        return result

    def get(self, position: int) -> str:
        chunk = bisect_right(self._starts, position) - 1
        offsets, local = self._offsets[chunk], position - self._starts[chunk]
        return self._texts[chunk][offsets[local]:offsets[local + 1] - self._gaps[chunk]]


_SEP = "\x1e"
# A part of a scan: (lead, type, time, url bits) columns, and the activities' row ids when the
# part was not read in row-id order (else None); its source ids went into a SourceIds.
_Part = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]
KEYS_CHUNK = 20_000  # leads per packed read of some leads' activities


def _bits_type(urls: UrlClassifier) -> type:
    return np.uint8 if len(urls.conditions) <= 8 else np.uint32 if len(urls.conditions) <= 32 else np.uint64


def _scan_rows(db: Any, since: float, urls: UrlClassifier, source_ids: SourceIds,
               keys: list[str] | None = None, rowid_range: tuple[int, int] | None = None) -> list[_Part]:
    """Row by row, in row-id order: (lead id, type, time, url bits, row ids) per chunk of the scan;
    source ids into `source_ids`."""
    parts: list[_Part] = []
    bits_of = urls.bits
    bits_type = _bits_type(urls)
    url_types = sorted({t for c in urls.conditions for t in c.types})
    chunks = activities.scan(db, type_codes=TYPE_CODES, url_types=url_types, since=since, keys=keys,
                             rowid_range=rowid_range, chunk=CHUNK)
    # Column lists by comprehension: zip(*rows) is several times slower on big chunks.
    for rows in chunks:
        size = len(rows)
        source_ids.add([r[4] for r in rows])
        parts.append((
            np.fromiter([r[0] for r in rows], np.int64, size),
            np.fromiter([r[1] for r in rows], np.int8, size),
            np.fromiter([r[2] for r in rows], np.float64, size),
            _url_bits([r[3] for r in rows], bits_of, bits_type) if urls.needed else np.zeros(size, np.uint8),
            np.fromiter([r[5] for r in rows], np.int64, size),
        ))
    return parts


def _unpacked(packed: activities.Packed, urls: UrlClassifier, source_ids: SourceIds) -> _Part | None:
    """The columns of a packed read, or None (nothing added to `source_ids`) when its text cannot be
    split back exactly (a separator inside a source id or URL, a time before 2004)."""
    count = packed.count
    lead_ids = np.fromstring(packed.lead_ids, dtype=np.int64, sep=",")
    types = np.fromstring(packed.types, dtype=np.int8, sep=",")
    times = np.fromstring(packed.times, dtype=np.int64, sep=",") if not packed.inexact else np.zeros(0, np.int64)
    rowids = np.fromstring(packed.rowids, dtype=np.int64, sep=",") if packed.rowids else None
    url_list = packed.urls.split(_SEP) if urls.needed else []
    if (packed.inexact or len(lead_ids) != count or len(types) != count or len(times) != count
            or (rowids is not None and len(rowids) != count) or (urls.needed and len(url_list) != count)
            or not source_ids.add_separated(packed.source_ids, count)):
        return None
    bits = _url_bits(url_list, urls.bits, _bits_type(urls)) if urls.needed else np.zeros(count, np.uint8)
    return lead_ids, types, times / activities.TIME_SCALE, bits, rowids


def _read_packed(db: Any, since: float, urls: UrlClassifier, source_ids: SourceIds, *,
                 rowid_range: tuple[int, int] | None = None, keys: list[str] | None = None) -> list[_Part]:
    """One packed read (a range of row ids, or a chunk of leads), read row by row instead when its
    text cannot be split back exactly or is longer than SQLite can hold in one string."""
    url_types = sorted({t for c in urls.conditions for t in c.types})
    packed = activities.scan_packed(db, type_codes=TYPE_CODES, url_types=url_types, since=since,
                                    rowid_range=rowid_range, keys=keys)
    if packed is not None and packed.count == 0:
        return []
    part = None if packed is None else _unpacked(packed, urls, source_ids)
    if part is None:
        return _scan_rows(db, since, urls, source_ids, keys=keys, rowid_range=rowid_range)
    return [part]


def _scan_packed(db: Any, since: float, urls: UrlClassifier, source_ids: SourceIds, low: int, high: int
                 ) -> list[_Part]:
    """A full scan, one packed read per range of CHUNK row ids (no Python object per activity until
    the columns are split)."""
    parts: list[_Part] = []
    for first in range(low, high + 1, CHUNK):
        parts += _read_packed(db, since, urls, source_ids, rowid_range=(first, min(first + CHUNK - 1, high)))
    return parts


def _scan_keys_packed(db: Any, since: float, urls: UrlClassifier, source_ids: SourceIds, keys: list[str]
                      ) -> list[_Part]:
    """The activities of some leads, one packed read per KEYS_CHUNK leads, each row with its id
    (the index gives them in its own order). A chunk is bounded by leads, not by activities."""
    parts: list[_Part] = []
    for start in range(0, len(keys), KEYS_CHUNK):
        parts += _read_packed(db, since, urls, source_ids, keys=keys[start:start + KEYS_CHUNK])
    return parts


def _url_bits(url_list: list[str | None], bits_of: Any, bits_type: type) -> np.ndarray:
    """The URL mask of each URL, each distinct URL classified once."""
    table = {url: bits_of(url) for url in set(url_list)}
    return np.fromiter(map(table.__getitem__, url_list), bits_type, len(url_list))


def load_activities(store: StateStore, sheet: ScoringSheet, index: LeadIndex, since: float,
                    keys: list[str] | None) -> tuple[ActivityColumns, SourceIds]:
    """Activity columns after `since` (future ones included) of the leads in `index`, read in chunks
    and sorted for scoring.

    `rowid` of the columns is the scan position; the returned SourceIds maps it to the activity's
    source id. Activities of one lead at one time are ordered by row id: a scan in row-id order
    gives the positions in that order; a scan of some leads reads the index on an activity's lead
    (its own order) and orders by the row ids it returns. On SQLite a full scan reads packed ranges
    of row ids and a scan of some leads packed chunks of leads (`activities.scan_packed`); on
    PostgreSQL rows. The scans return lead ids (rowids); they become positions in `index` here.
    """
    urls = UrlClassifier(sheet)
    source_ids = SourceIds()
    in_rowid_order = True
    if store.dialect != "sqlite":
        parts = _scan_rows(store.db, since, urls, source_ids, keys=keys)
    elif keys is None:
        low, high = activities.rowid_range(store.db)
        parts = [] if low is None else _scan_packed(store.db, since, urls, source_ids, low, high)
    else:
        parts, in_rowid_order = _scan_keys_packed(store.db, since, urls, source_ids, keys), False
    if not parts:
        return ActivityColumns.empty(), source_ids
    pieces = [list(column) for column in zip(*[part[:4] for part in parts], strict=True)]
    rowids = None if in_rowid_order else np.concatenate([part[4] for part in parts])
    parts.clear()
    columns = []
    for column in pieces:  # one column at a time, so its pieces and the whole never all coexist
        columns.append(np.concatenate(column))
        column.clear()
    columns[0] = index(columns[0])
    positions = np.arange(source_ids.size, dtype=np.int32 if source_ids.size < 2**31 else np.int64)
    return ActivityColumns(*columns, positions).sorted(ties=rowids), source_ids

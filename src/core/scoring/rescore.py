"""Rescoring the state store: which leads, the batch or per-lead scorer, and writing scores + history."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from itertools import repeat
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
from leadsync.core.config import ScoringSettings
from leadsync.core.models import Score
from leadsync.core.scoring.batch import BatchResult, RuleOutcome, score_batch
from leadsync.core.scoring.engine import score_lead
from leadsync.core.scoring.loader import (
    LeadIndex,
    SourceIds,
    iter_lead_models,
    load_activities,
    load_lead_columns,
)
from leadsync.core.scoring.sheet import ScoringSheet
from leadsync.core.state import leads, scores
from leadsync.core.state.store import StateStore

__all__ = ["RescoreResult", "compute_scores", "load_score", "rescore"]

VERSION_KEY = "scoring.sheet_version"
WRITE_CHUNK = 10_000
DAY = 86400.0
_ROW = tuple[str, int, int, int, str, str, float, float | None, str, str]


@dataclass
class RescoreResult:
    scored: int = 0
    changed: list[str] = field(default_factory=list)
    segment_changed: list[str] = field(default_factory=list)
    leads_read: int = 0  # leads loaded for scoring
    activities_read: int = 0  # activity rows read from the state store


def load_score(store: StateStore, lead_key: str) -> Score | None:
    """The stored score of a lead (as the last rescore left it), or None."""
    return scores.load(store.db, lead_key)


_NEEDS_ESCAPE = re.compile(r'["\\\x00-\x1f]')


def _dump(value: str) -> str:
    """A JSON string literal; the common case (nothing to escape) without json.dumps."""
    return json.dumps(value, ensure_ascii=False) if _NEEDS_ESCAPE.search(value) else f'"{value}"'


def _objects(values: list[str]) -> np.ndarray:
    """A 1-d object array of these strings (np.array would make a fixed-width unicode array)."""
    array = np.empty(len(values), object)
    array[:] = values
    return array


def _id_literals(ids: np.ndarray) -> tuple[np.ndarray, bool]:
    """(ids, False) when no source id needs escaping, else (their JSON literals, True)."""
    if len(ids) and _NEEDS_ESCAPE.search("".join(ids.tolist())):
        return _objects([_dump(i) for i in ids.tolist()]), True
    return ids, False


def _fragments(outcome: RuleOutcome, source_ids: SourceIds, fired: np.ndarray, start: int, stop: int) -> np.ndarray:
    """Each fired lead's breakdown entry for this rule, with a leading comma, as an object array.

    The text before the evidence depends only on the points shown, so it is built once per
    distinct value; attribute evidence once per distinct field value."""
    rule = outcome.rule
    prefix = f',{{"rule":{_dump(rule.name)},"group":{_dump(rule.group)},"points":'
    values, inverse = np.unique(outcome.points[start + fired], return_inverse=True)
    heads = [f'{prefix}{round(p, 2)!r},"evidence":[' for p in values.tolist()]
    if outcome.ev_codes is not None:
        assert outcome.ev_values is not None
        codes = outcome.ev_codes[start + fired]
        distinct, code_inverse = np.unique(codes, return_inverse=True)
        evidence = [_dump(outcome.ev_values[c]) if outcome.ev_values[c] is not None else "" for c in distinct.tolist()]
        pairs = inverse.astype(np.int64) * len(distinct) + code_inverse
        table = _objects([f"{head}{text}]}}" for head in heads for text in evidence])
        return table[pairs]
    assert outcome.ev_lead is not None and outcome.ev_rowid is not None
    lo, hi = np.searchsorted(outcome.ev_lead, [start, stop])
    ev_lead = outcome.ev_lead[lo:hi] - start
    ids, escaped = _id_literals(source_ids.get_many(outcome.ev_rowid[lo:hi]))
    quote = "" if escaped else '"'
    if len(ids) == len(fired):  # one evidence id per hit: the common once-per-lead case
        return _objects([head + quote for head in heads])[inverse] + ids + (quote + "]}")
    if not escaped:
        ids = '"' + ids + '"'
    per_lead = np.bincount(ev_lead, minlength=stop - start)[fired]
    k = int(per_lead[0]) if len(per_lead) else 0
    if k > 0 and len(ids) == k * len(fired) and bool((per_lead == k).all()):  # k ids each (revisit: m days)
        joined = _objects(heads)[inverse] + ids[0::k]
        for j in range(1, k):
            joined = joined + "," + ids[j::k]
        return joined + "]}"
    bounds = np.searchsorted(ev_lead, fired).tolist()
    ends = np.searchsorted(ev_lead, fired, side="right").tolist()
    listed = ids.tolist()
    return _objects([f"{heads[h]}{','.join(listed[b:e])}]}}"
                     for h, b, e in zip(inverse.tolist(), bounds, ends, strict=True)])


def _rows_from_batch(source_ids: SourceIds, sheet: ScoringSheet, keys: list[str], result: BatchResult,
                     start: int, stop: int, as_of: float, reasons: list[str]) -> list[_ROW]:
    """Score rows for leads [start, stop): totals, segment and the breakdown JSON (built per rule
    over all the leads it fired for, with numpy object arrays)."""
    size = stop - start
    acc = np.full(size, "", object)
    for outcome in result.outcomes:
        fired = np.flatnonzero(outcome.fired[start:stop])
        if len(fired):
            acc[fired] += _fragments(outcome, source_ids, fired, start, stop)
    breakdowns = [f"[{text[1:]}]" for text in acc.tolist()]
    behaviour = np.floor(result.behaviour[start:stop] + 0.5).astype(np.int64)
    attribute = np.floor(result.attribute[start:stop] + 0.5).astype(np.int64)
    totals = behaviour + attribute
    segment_of = {t: sheet.segment_for(t).value for t in np.unique(totals).tolist()}
    totals_list = totals.tolist()
    nexts = result.next_change[start:stop]
    nexts_list = np.where(np.isnan(nexts), None, nexts).tolist() if np.isnan(nexts).any() else nexts.tolist()
    return list(zip(keys[start:stop], totals_list, behaviour.tolist(), attribute.tolist(),
                    map(segment_of.__getitem__, totals_list), repeat(sheet.version), repeat(as_of), nexts_list,
                    breakdowns, reasons[start:stop] if reasons else repeat(""), strict=False))


def _row_from_score(score: Score) -> _ROW:
    breakdown = json.dumps([h.model_dump() for h in score.breakdown], ensure_ascii=False, separators=(",", ":"))
    return (score.lead_key, score.total, score.behavior, score.attribute, score.segment.value, score.sheet_version,
            score.scored_at.timestamp(), score.next_change_at.timestamp() if score.next_change_at else None,
            breakdown, "")


def compute_scores(store: StateStore, sheet: ScoringSheet, settings: ScoringSettings, as_of: datetime,
                   keys: list[str] | None, *, reason: str = "", dirty: set[str] | None = None,
                   stats: RescoreResult | None = None) -> Iterable[list[_ROW]]:
    """Score rows of the given leads (None: all), in chunks; batch path unless plugin conditions need leads.

    Each row's reason is `reason`, or "time" for a lead not in `dirty` (when given)."""
    now = as_of.timestamp()
    if sheet.has_plugin_conditions:
        chunk: list[_ROW] = []
        for lead, activities in iter_lead_models(store, keys):
            if stats is not None:
                stats.leads_read += 1
                stats.activities_read += len(activities)
            why = reason if dirty is None or lead.key in dirty else "time"
            chunk.append(_row_from_score(score_lead(sheet, lead, activities, as_of, settings))[:9] + (why,))
            if len(chunk) >= WRITE_CHUNK:
                yield chunk
                chunk = []
        if chunk:
            yield chunk
        return
    lead_keys, _emails, fields, ids = load_lead_columns(store, sheet, keys, with_emails=False)
    longest = max((r.window_days for r in sheet.rules if r.is_behaviour), default=0.0)
    cols, source_ids = load_activities(store, sheet, LeadIndex(ids), now - longest * DAY, keys)
    del ids
    if stats is not None:
        stats.leads_read += len(lead_keys)
        stats.activities_read += source_ids.size
    result = score_batch(sheet, len(lead_keys), fields, cols, as_of)
    del cols, fields
    reasons = [] if dirty is None and not reason else [
        reason if dirty is None or key in dirty else "time" for key in lead_keys]
    for start in range(0, len(lead_keys), WRITE_CHUNK):
        yield _rows_from_batch(source_ids, sheet, lead_keys, result, start, min(start + WRITE_CHUNK, len(lead_keys)),
                               now, reasons)


def write_rows(store: StateStore, rows: Sequence[_ROW], result: RescoreResult,
               rewrite: scores.Rewrite | None = None) -> None:
    """Store one chunk of scores (in one transaction unless inside one): history for changes,
    scores, dirty cleared (by the `rewrite` at its end, if given)."""
    with store.transaction() as db:
        changed, moved = scores.write(db, rows, rewrite=rewrite)
    result.changed += changed
    result.segment_changed += moved
    result.scored += len(rows)


def rescore(store: StateStore, sheet: ScoringSheet, settings: ScoringSettings, as_of: datetime, *,
            full: bool = False, reason: str = "sync") -> RescoreResult:
    """Rescore dirty leads, leads whose next_change_at has come, or all (full, or a new sheet version).

    A full rescore on SQLite is one transaction (`scores.rewrite`: nothing else writes meanwhile,
    indexes rebuilt once, all dirty flags cleared in one statement); otherwise one per chunk."""
    full = full or store.kv_get(VERSION_KEY) != sheet.version
    keys = None if full else scores.rescore_targets(store.db, as_of.timestamp())
    result = RescoreResult()
    if keys is not None and not keys:
        return result
    if full and store.dialect == "sqlite":
        with store.transaction() as db, scores.rewrite(db) as rewrite:
            for rows in compute_scores(store, sheet, settings, as_of, None, reason=reason, stats=result):
                write_rows(store, rows, result, rewrite)
            store.kv_set(VERSION_KEY, sheet.version)
        return result
    dirty: set[str] = set()
    if keys is not None:
        dirty = leads.dirty_keys(store.db)
    for rows in compute_scores(store, sheet, settings, as_of, keys, reason=reason, dirty=None if full else dirty,
                               stats=result):
        write_rows(store, rows, result)
    if full:
        with store.transaction():
            store.kv_set(VERSION_KEY, sheet.version)
    return result

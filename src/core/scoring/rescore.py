"""Rescoring the state store: which leads, the batch or per-lead scorer, and writing scores + history."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
from leadsync.core.config import ScoringSettings
from leadsync.core.models import Score
from leadsync.core.scoring.batch import BatchResult, score_batch
from leadsync.core.scoring.engine import score_lead
from leadsync.core.scoring.loader import (
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
WRITE_CHUNK = 50_000
DAY = 86400.0
_ROW = tuple[str, int, int, int, str, str, float, float | None, str, str]


@dataclass
class RescoreResult:
    scored: int = 0
    changed: list[str] = field(default_factory=list)
    segment_changed: list[str] = field(default_factory=list)


def load_score(store: StateStore, lead_key: str) -> Score | None:
    """The stored score of a lead (as the last rescore left it), or None."""
    return scores.load(store.db, lead_key)


_NEEDS_ESCAPE = re.compile(r'["\\\x00-\x1f]')


def _dump(value: str) -> str:
    """A JSON string literal; the common case (nothing to escape) without json.dumps."""
    return json.dumps(value, ensure_ascii=False) if _NEEDS_ESCAPE.search(value) else f'"{value}"'


def _rows_from_batch(source_ids: SourceIds, sheet: ScoringSheet, keys: list[str], result: BatchResult,
                     start: int, stop: int, as_of: float) -> list[_ROW]:
    """Score rows for leads [start, stop): totals, segment and the breakdown JSON."""
    size = stop - start
    pieces: list[list[str]] = [[] for _ in range(size)]
    slices = []
    for outcome in result.outcomes:
        if outcome.ev_lead is not None:
            lo, hi = np.searchsorted(outcome.ev_lead, [start, stop])
            slices.append((lo, hi))
        else:
            slices.append((0, 0))
    source_id = source_ids.get
    for outcome, (lo, hi) in zip(result.outcomes, slices, strict=True):
        rule = outcome.rule
        prefix = f'{{"rule":{_dump(rule.name)},"group":{_dump(rule.group)},"points":'
        fired = np.flatnonzero(outcome.fired[start:stop])
        if len(fired) == 0:
            continue
        points = [round(p, 2) for p in outcome.points[start + fired].tolist()]
        if outcome.ev_text is not None:
            texts = outcome.ev_text
            for local, pts in zip(fired.tolist(), points, strict=True):
                pieces[local].append(f'{prefix}{pts!r},"evidence":[{_dump(texts[start + local])}]}}')
            continue
        assert outcome.ev_lead is not None and outcome.ev_rowid is not None
        ev_lead = outcome.ev_lead[lo:hi] - start
        ev_ids = [_dump(source_id(r)) for r in outcome.ev_rowid[lo:hi].tolist()]
        if len(ev_ids) == len(fired):  # one evidence id per hit: the common once-per-lead case
            for local, pts, evidence in zip(fired.tolist(), points, ev_ids, strict=True):
                pieces[local].append(f'{prefix}{pts!r},"evidence":[{evidence}]}}')
            continue
        bounds = np.searchsorted(ev_lead, fired).tolist()
        ends = np.searchsorted(ev_lead, fired, side="right").tolist()
        for j, (local, pts) in enumerate(zip(fired.tolist(), points, strict=True)):
            evidence = ",".join(ev_ids[bounds[j]:ends[j]])
            pieces[local].append(f'{prefix}{pts!r},"evidence":[{evidence}]}}')
    behaviour = np.floor(result.behaviour[start:stop] + 0.5).astype(np.int64).tolist()
    attribute = np.floor(result.attribute[start:stop] + 0.5).astype(np.int64).tolist()
    nexts = result.next_change[start:stop].tolist()
    rows: list[_ROW] = []
    for local in range(size):
        b, a = behaviour[local], attribute[local]
        nxt = nexts[local]
        rows.append((keys[start + local], b + a, b, a, sheet.segment_for(b + a).value, sheet.version, as_of,
                     None if math.isnan(nxt) else nxt, "[" + ",".join(pieces[local]) + "]", ""))
    return rows


def _row_from_score(score: Score) -> _ROW:
    breakdown = json.dumps([h.model_dump() for h in score.breakdown], ensure_ascii=False, separators=(",", ":"))
    return (score.lead_key, score.total, score.behavior, score.attribute, score.segment.value, score.sheet_version,
            score.scored_at.timestamp(), score.next_change_at.timestamp() if score.next_change_at else None,
            breakdown, "")


def compute_scores(store: StateStore, sheet: ScoringSheet, settings: ScoringSettings, as_of: datetime,
                   keys: list[str] | None) -> Iterable[list[_ROW]]:
    """Score rows of the given leads (None: all), in chunks; batch path unless plugin conditions need leads."""
    now = as_of.timestamp()
    if sheet.has_plugin_conditions:
        chunk: list[_ROW] = []
        for lead, activities in iter_lead_models(store, keys):
            chunk.append(_row_from_score(score_lead(sheet, lead, activities, as_of, settings)))
            if len(chunk) >= WRITE_CHUNK:
                yield chunk
                chunk = []
        if chunk:
            yield chunk
        return
    lead_keys, _emails, fields = load_lead_columns(store, sheet, keys)
    index = {key: i for i, key in enumerate(lead_keys)}
    longest = max((r.window_days for r in sheet.rules if r.is_behaviour), default=0.0)
    cols, source_ids = load_activities(store, sheet, index, now - longest * DAY, keys)
    del index
    result = score_batch(sheet, len(lead_keys), fields, cols, as_of)
    del cols, fields
    for start in range(0, len(lead_keys), WRITE_CHUNK):
        yield _rows_from_batch(source_ids, sheet, lead_keys, result, start, min(start + WRITE_CHUNK, len(lead_keys)), now)


def write_rows(store: StateStore, rows: Sequence[_ROW], result: RescoreResult) -> None:
    """Store one chunk of scores in one transaction: history for changes, scores, dirty cleared."""
    with store.transaction() as db:
        for key, segment_moved in scores.write(db, rows):
            result.changed.append(key)
            if segment_moved:
                result.segment_changed.append(key)
    result.scored += len(rows)


def rescore(store: StateStore, sheet: ScoringSheet, settings: ScoringSettings, as_of: datetime, *,
            full: bool = False, reason: str = "sync") -> RescoreResult:
    """Rescore dirty leads, leads whose next_change_at has come, or all (full, or a new sheet version)."""
    full = full or store.kv_get(VERSION_KEY) != sheet.version
    keys = None if full else scores.rescore_targets(store.db, as_of.timestamp())
    result = RescoreResult()
    if keys is not None and not keys:
        return result
    dirty: set[str] = set()
    if keys is not None:
        dirty = leads.dirty_keys(store.db)
    for rows in compute_scores(store, sheet, settings, as_of, keys):
        labelled = [row[:9] + ((reason if full or row[0] in dirty else "time"),) for row in rows]
        write_rows(store, labelled, result)
    if full:
        with store.transaction():
            store.kv_set(VERSION_KEY, sheet.version)
    return result

"""The batch scorer: every lead at once with numpy, the same semantics as `engine.score_lead`.

Activities arrive as columns (lead index, type code, epoch, URL bits, row id) sorted by lead, time
and row id; each rule is a few array operations over them. Attribute rules are evaluated once per
distinct field value.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
from leadsync.core.models import ActivityType
from leadsync.core.scoring.engine import DAY, EVIDENCE_LIMIT
from leadsync.core.scoring.rules import (
    ActivityCondition,
    FieldCondition,
    RevisitCondition,
)
from leadsync.core.scoring.sheet import Rule, ScoringSheet

__all__ = ["TYPE_CODES", "ActivityColumns", "BatchResult", "UrlClassifier", "factorize", "score_batch"]

TYPE_CODES = {t.value: i for i, t in enumerate(ActivityType)}
_WEB_VISIT = TYPE_CODES["web_visit"]
_ZERO = timedelta(0)


class UrlClassifier:
    """Bit i of a URL's mask is set when the URL matches the i-th distinct pattern set of the sheet."""

    def __init__(self, sheet: ScoringSheet) -> None:
        self.conditions: list[ActivityCondition] = []
        self.bit_of: dict[tuple[str, ...], int] = {}
        for rule in sheet.rules:
            cond = rule.condition
            if isinstance(cond, ActivityCondition) and cond.url_patterns and cond.url_patterns not in self.bit_of:
                self.bit_of[cond.url_patterns] = len(self.conditions)
                self.conditions.append(cond)
        self._cache: dict[str | None, int] = {None: 0}

    @property
    def needed(self) -> bool:
        return bool(self.conditions)

    def bits(self, url: str | None) -> int:
        found = self._cache.get(url)
        if found is None:
            found = sum(1 << i for i, cond in enumerate(self.conditions) if cond.url_matches(url))
            if len(self._cache) < 500_000:
                self._cache[url] = found
        return found


@dataclass
class ActivityColumns:
    lead: np.ndarray
    typ: np.ndarray
    t: np.ndarray
    url_bits: np.ndarray
    rowid: np.ndarray

    @classmethod
    def empty(cls) -> ActivityColumns:
        return cls(np.zeros(0, np.int32), np.zeros(0, np.int8), np.zeros(0), np.zeros(0, np.uint8), np.zeros(0, np.int64))

    def sorted(self, ties: np.ndarray | None = None) -> ActivityColumns:
        """Drop activities of unknown leads; order by lead, time, then `ties` (distinct values, e.g.
        the activities' row ids when `rowid` holds scan positions not in row-id order), else `rowid`.
        Reorders these columns in place, one at a time (never two copies of them all at once)."""
        keep = np.flatnonzero(self.lead >= 0)
        ties = self.rowid if ties is None else ties
        order = keep[_lead_time_order(self.lead[keep], self.t[keep], ties[keep])]
        del keep
        for name in ("lead", "typ", "t", "url_bits", "rowid"):
            setattr(self, name, getattr(self, name)[order])
        return self


def _in_order(lead: np.ndarray, t: np.ndarray, rowid: np.ndarray, order: np.ndarray) -> bool:
    """Whether `order` lists the rows strictly ascending by (lead, time, row id)."""
    lo, to, ro = lead[order], t[order], rowid[order]
    same_lead, same_time = lo[1:] == lo[:-1], to[1:] == to[:-1]
    return bool(((lo[1:] > lo[:-1]) | (same_lead & ((to[1:] > to[:-1]) | (same_time & (ro[1:] > ro[:-1]))))).all())


def _lead_time_order(lead: np.ndarray, t: np.ndarray, rowid: np.ndarray) -> np.ndarray:
    """The permutation that orders rows by lead, time, row id (row ids distinct).

    Sorting one int64 key (lead in the high bits, the time quantized below it) is several times
    faster than a three-key lexsort; the result is checked pair by pair and only used when it is
    exactly the lexsort order (times closer than the quantum, or ties, fall back)."""
    if len(lead) < 2:
        return np.arange(len(lead))
    lead_bits = max(int(lead.max()), 1).bit_length()
    time_bits = 62 - lead_bits
    low, high = float(t.min()), float(t.max())
    if time_bits >= 16 and np.isfinite(low) and np.isfinite(high):
        scale = (2.0 ** time_bits - 1) / (high - low) if high > low else 0.0
        key = (lead.astype(np.int64) << time_bits) | np.floor((t - low) * scale).astype(np.int64)
        for kind in ("quicksort", "stable"):
            order = np.argsort(key, kind=kind)
            if _in_order(lead, t, rowid, order):
                return order
    return np.lexsort((rowid, t, lead))


@dataclass
class RuleOutcome:
    """One rule over all leads: fired mask, points, and evidence (row ids or text)."""

    rule: Rule
    fired: np.ndarray
    points: np.ndarray
    ev_lead: np.ndarray | None = None  # activity evidence, sorted by lead, newest first
    ev_rowid: np.ndarray | None = None
    ev_codes: np.ndarray | None = None  # attribute evidence: per lead, an index into ev_values
    ev_values: list[str | None] | None = None

    @property
    def ev_text(self) -> list[str | None] | None:
        """Attribute evidence per lead (None: the rule does not match the lead's value)."""
        if self.ev_codes is None or self.ev_values is None:
            return None
        values = self.ev_values
        return [values[c] for c in self.ev_codes.tolist()]


@dataclass
class BatchResult:
    behaviour: np.ndarray
    attribute: np.ndarray
    next_change: np.ndarray  # epoch, NaN: none
    outcomes: list[RuleOutcome] = field(default_factory=list)


def _local_days(t: np.ndarray, zone: ZoneInfo) -> np.ndarray:
    """Local day numbers; the UTC offset is looked up once per 15-minute bucket."""
    if len(t) == 0:
        return np.zeros(0, np.int64)
    buckets = np.floor(t / 900.0)
    unique, inverse = np.unique(buckets, return_inverse=True)
    offsets = np.array([
        (datetime.fromtimestamp(b * 900.0, zone).utcoffset() or _ZERO).total_seconds() for b in unique.tolist()
    ])
    return np.floor((t + offsets[inverse]) / DAY).astype(np.int64)



def _activity_rule(rule: Rule, cond: ActivityCondition, cols: ActivityColumns, n: int, now: float,
                   bits: dict[tuple[str, ...], int]) -> tuple[RuleOutcome, np.ndarray]:
    window = rule.window_days * DAY
    codes = [TYPE_CODES[t] for t in cond.types]
    mask = np.isin(cols.typ, codes) & (cols.t > now - window) & (cols.t <= now)
    if cond.url_patterns:
        mask &= (cols.url_bits & (1 << bits[cond.url_patterns])) != 0
    idx = np.flatnonzero(mask)
    lead = cols.lead[idx]
    counts = np.bincount(lead, minlength=n).astype(np.int64)
    rank = np.cumsum(counts)[lead] - 1 - np.arange(len(idx))  # 0 = newest of the lead
    k = counts[lead]
    counted = 1 if rule.cap is None else rule.cap
    keep = max(counted, cond.min_count)
    fires_at = k >= cond.min_count if rule.cap != 0 else np.zeros(len(idx), bool)
    use = fires_at & (rank < counted)
    times = cols.t[idx][use]
    weights = rule.points * np.power(0.5, (now - times) / (rule.half_life_days * DAY)) if rule.half_life_days \
        else np.full(len(times), rule.points * 1.0)
    points = np.bincount(lead[use], weights=weights, minlength=n).astype(np.float64)
    fired = (counts >= cond.min_count) & (rule.cap != 0)
    ev = fires_at & (rank < min(keep, EVIDENCE_LIMIT))
    ev_lead, ev_rank, ev_rowid = lead[ev], rank[ev], cols.rowid[idx][ev]
    order = np.lexsort((ev_rank, ev_lead))
    expiry = np.full(n, np.nan)
    at = fires_at & (rank == np.minimum(k, keep) - 1)
    expiry[lead[at]] = cols.t[idx][at] + window
    return RuleOutcome(rule, fired, points, ev_lead[order], ev_rowid[order]), expiry


def _revisit_rule(rule: Rule, cond: RevisitCondition, cols: ActivityColumns, n: int, now: float,
                  zone: ZoneInfo) -> tuple[RuleOutcome, np.ndarray]:
    window = rule.window_days * DAY
    idx = np.flatnonzero((cols.typ == _WEB_VISIT) & (cols.t > now - window) & (cols.t <= now))
    lead, times, rowid = cols.lead[idx], cols.t[idx], cols.rowid[idx]
    day = _local_days(times, zone)
    last = np.ones(len(idx), bool)
    if len(idx) > 1:
        last[:-1] = (lead[1:] != lead[:-1]) | (day[1:] != day[:-1])
    d_lead, d_day, d_t, d_rowid = lead[last], day[last], times[last], rowid[last]
    m, nd = cond.min_days, len(d_lead)
    fired = np.zeros(n, bool)
    points = np.zeros(n)
    expiry = np.full(n, np.nan)
    if nd < m:
        return RuleOutcome(rule, fired, points, np.zeros(0, np.int64), np.zeros(0, np.int64)), expiry
    ok = (d_lead[m - 1:] == d_lead[: nd - m + 1]) & (d_day[m - 1:] - d_day[: nd - m + 1] <= cond.period_days - 1)
    qualifying = np.flatnonzero(ok)
    if len(qualifying) == 0:
        return RuleOutcome(rule, fired, points, np.zeros(0, np.int64), np.zeros(0, np.int64)), expiry
    q_lead = d_lead[qualifying]
    is_last = np.ones(len(qualifying), bool)
    is_last[:-1] = q_lead[1:] != q_lead[:-1]
    first = qualifying[is_last]
    who = d_lead[first]
    newest = d_t[first + m - 1]
    decay = np.power(0.5, (now - newest) / (rule.half_life_days * DAY)) if rule.half_life_days else 1.0
    fired[who] = True
    points[who] = rule.points * decay
    expiry[who] = d_t[first] + window
    ev_lead = np.repeat(who, m)
    ev_rowid = np.stack([d_rowid[first + m - 1 - j] for j in range(m)], axis=1).reshape(-1)
    return RuleOutcome(rule, fired, points, ev_lead, ev_rowid), expiry


def factorize(values: list[Any]) -> tuple[np.ndarray, list[Any]]:
    """(code per value, distinct values in first-seen order): values[i] == distinct[codes[i]]."""
    distinct = list(dict.fromkeys(values))
    code_of = {value: code for code, value in enumerate(distinct)}
    return np.fromiter(map(code_of.__getitem__, values), np.int32, len(values)), distinct


def _field_rule(rule: Rule, cond: FieldCondition, factors: tuple[np.ndarray, list[Any]], n: int) -> RuleOutcome:
    """Tested once per distinct value of the field."""
    codes, distinct = factors
    answers = [cond.test(value) for value in distinct]
    fired = np.array([a is not None for a in answers], bool)[codes] if len(codes) else np.zeros(n, bool)
    return RuleOutcome(rule, fired, np.where(fired, rule.points, 0.0), ev_codes=codes, ev_values=answers)


def score_batch(sheet: ScoringSheet, n: int, fields: dict[str, Any], cols: ActivityColumns,
                as_of: datetime) -> BatchResult:
    """Score `n` leads; `fields` holds each field's values (as `rules.field_value` gives them), as a
    list or factorized (codes, distinct values); `cols` the activities sorted with `ActivityColumns.sorted`."""
    now = as_of.timestamp()
    zone = ZoneInfo(sheet.timezone)
    bits = UrlClassifier(sheet).bit_of
    outcomes: list[RuleOutcome] = []
    next_change = np.full(n, np.inf)
    behaviour_codes: set[int] = set()
    factors: dict[str, tuple[np.ndarray, list[Any]]] = {}
    for rule in sheet.rules:
        cond = rule.condition
        if isinstance(cond, ActivityCondition):
            outcome, expiry = _activity_rule(rule, cond, cols, n, now, bits)
            behaviour_codes |= {TYPE_CODES[t] for t in cond.types}
        elif isinstance(cond, RevisitCondition):
            outcome, expiry = _revisit_rule(rule, cond, cols, n, now, zone)
            behaviour_codes.add(_WEB_VISIT)
        elif isinstance(cond, FieldCondition):
            if cond.field not in factors:
                column = fields[cond.field]
                factors[cond.field] = column if isinstance(column, tuple) else factorize(column)
            outcomes.append(_field_rule(rule, cond, factors[cond.field], n))
            continue
        else:
            raise ValueError(f"rule {rule.name!r}: plugin conditions are scored per lead")
        if rule.points != 0:
            next_change = np.fmin(next_change, expiry)
        outcomes.append(outcome)
    _exclusive_groups(outcomes, n)
    behaviour, attribute = np.zeros(n), np.zeros(n)
    constant, decaying, spread = np.zeros(n), np.zeros(n), np.zeros(n)
    has_pos, has_neg = np.zeros(n, bool), np.zeros(n, bool)
    h_min = np.full(n, np.inf)
    for outcome in outcomes:
        rule, pts = outcome.rule, np.where(outcome.fired, outcome.points, 0.0)
        if not rule.is_behaviour:
            attribute += pts
            continue
        behaviour += pts
        if rule.half_life_days:
            live = outcome.fired & (pts != 0)
            decaying += np.where(live, pts, 0.0)
            spread += np.where(live, np.abs(pts), 0.0)
            has_pos |= live & (pts > 0)
            has_neg |= live & (pts < 0)
            h_min = np.where(live, np.minimum(h_min, rule.half_life_days), h_min)
        else:
            constant += pts
    future = np.flatnonzero(np.isin(cols.typ, sorted(behaviour_codes)) & (cols.t > now))
    if len(future):
        f_lead = cols.lead[future]
        first = np.ones(len(future), bool)
        first[1:] = f_lead[1:] != f_lead[:-1]
        next_change[f_lead[first]] = np.fmin(next_change[f_lead[first]], cols.t[future][first])
    step = _decay_steps(constant, decaying, spread, has_pos, has_neg, h_min * DAY)
    with np.errstate(invalid="ignore"):
        decay_at = np.ceil((now + step) / 60.0) * 60.0 + 60.0
    next_change = np.fmin(next_change, decay_at)
    next_change[np.isinf(next_change)] = np.nan
    return BatchResult(behaviour, attribute, next_change, outcomes)


def _exclusive_groups(outcomes: list[RuleOutcome], n: int) -> None:
    """Within an attribute group only the matching row with the largest |points| (first on ties) stays."""
    groups: dict[str, list[RuleOutcome]] = {}
    for outcome in outcomes:
        if not outcome.rule.is_behaviour:
            groups.setdefault(outcome.rule.group, []).append(outcome)
    for members in groups.values():
        if len(members) < 2:
            continue
        best = np.full(n, -1.0)
        winner = np.full(n, -1)
        for position, outcome in enumerate(members):
            better = outcome.fired & (abs(outcome.rule.points) > best)
            winner[better] = position
            best[better] = abs(outcome.rule.points)
        for position, outcome in enumerate(members):
            outcome.fired = outcome.fired & (winner == position)


def _decay_steps(constant: np.ndarray, decaying: np.ndarray, spread: np.ndarray, has_pos: np.ndarray,
                 has_neg: np.ndarray, h_min: np.ndarray) -> np.ndarray:
    """Vector form of `engine.decay_change_after` (seconds; NaN: never)."""
    total = constant + decaying
    rounded = np.floor(total + 0.5)
    step = np.full(len(total), np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        same = has_pos ^ has_neg
        target = np.where(has_pos, rounded - 0.5 - constant, constant - (rounded + 0.5))
        size = np.abs(decaying)
        exact = same & (target > 0)
        step = np.where(exact & (target >= size), 0.0, step)
        step = np.where(exact & (target < size), h_min * np.log2(size / target), step)
        mixed = has_pos & has_neg
        distance = np.minimum(total - (rounded - 0.5), (rounded + 0.5) - total)
        step = np.where(mixed & (distance < spread), -h_min * np.log2(1 - distance / spread), step)
    return step


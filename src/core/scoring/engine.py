"""The per-lead scorer: one lead and its activities in, a Score with its breakdown out.

This is the reference implementation (used by `score explain` and for plugin conditions); the
batch path in `batch.py` computes the same numbers with numpy and is tested against it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from leadsync.core.config import ScoringSettings
from leadsync.core.models import Activity, Lead, RuleHit, Score
from leadsync.core.scoring.rules import (
    ActivityCondition,
    FieldCondition,
    PluginCondition,
    RevisitCondition,
    field_value,
)
from leadsync.core.scoring.sheet import Rule, ScoringSheet

__all__ = ["EVIDENCE_LIMIT", "combine", "decay_change_after", "local_day", "score_lead"]

DAY = 86400.0
EVIDENCE_LIMIT = 20  # evidence ids kept per rule hit, newest first


def round_half_up(value: float) -> int:
    return int(math.floor(value + 0.5))


def local_day(epoch: float, zone: ZoneInfo) -> int:
    """The local calendar day number (days since 1970-01-01 in `zone`) of an instant."""
    offset = datetime.fromtimestamp(epoch, zone).utcoffset()
    return int((epoch + (offset.total_seconds() if offset else 0.0)) // DAY)


def decay_change_after(constant: float, decaying: list[tuple[float, float]]) -> float | None:
    """Seconds until the rounded sum `constant + sum(p * 0.5**(t/h))` can first change, or None.

    Exact when every decaying term has the same sign and half-life; otherwise a lower bound
    (a rescore then finds no change and sets a later moment).
    """
    terms = [(p, h) for p, h in decaying if p != 0]
    if not terms:
        return None
    total = constant + sum(p for p, _ in terms)
    rounded = round_half_up(total)
    h_min = min(h for _, h in terms) * DAY
    if all(p > 0 for p, _ in terms) or all(p < 0 for p, _ in terms):
        positive = terms[0][0] > 0
        decaying_sum = abs(sum(p for p, _ in terms))
        # Moving toward `constant`: the boundary crossed is rounded - 0.5 (or + 0.5 going up).
        target = (rounded - 0.5 - constant) if positive else (constant - (rounded + 0.5))
        if target <= 0:
            return None
        if target >= decaying_sum:
            return 0.0
        return h_min * math.log2(decaying_sum / target)
    spread = sum(abs(p) for p, _ in terms)
    distance = min(total - (rounded - 0.5), (rounded + 0.5) - total)
    if distance >= spread:
        return None
    return -h_min * math.log2(1 - distance / spread)


def combine(
    sheet: Rule | ScoringSheet,
    hits: list[tuple[Rule, float, list[str]]],
) -> tuple[list[tuple[Rule, float, list[str]]], float, float]:
    """Keep the winning attribute row of each group; return (hits in sheet order, behaviour, attribute)."""
    best: dict[str, tuple[Rule, float, list[str]]] = {}
    kept: list[tuple[Rule, float, list[str]]] = []
    for hit in hits:
        rule = hit[0]
        if rule.is_behaviour:
            kept.append(hit)
            continue
        current = best.get(rule.group)
        if current is None or abs(hit[1]) > abs(current[1]):
            best[rule.group] = hit
    kept.extend(best.values())
    order = {id(r): i for i, r in enumerate(sheet.rules)} if isinstance(sheet, ScoringSheet) else {}
    kept.sort(key=lambda h: order.get(id(h[0]), h[0].row))
    behaviour = sum(p for r, p, _ in kept if r.is_behaviour)
    attribute = sum(p for r, p, _ in kept if not r.is_behaviour)
    return kept, behaviour, attribute


def _activity_hit(rule: Rule, cond: ActivityCondition, acts: list[tuple[float, Activity]], now: float
                  ) -> tuple[float, list[str], float | None] | None:
    start = now - rule.window_days * DAY
    matching = [(t, a) for t, a in acts if a.type.value in cond.types and start < t <= now and cond.url_matches(a.url)]
    k = len(matching)
    if k < cond.min_count or rule.cap == 0:
        return None
    counted = 1 if rule.cap is None else rule.cap
    newest_first = matching[::-1]
    points = 0.0
    for t, _ in reversed(newest_first[:counted]):  # oldest first, the order the batch path sums in
        points += rule.points * (0.5 ** ((now - t) / (rule.half_life_days * DAY)) if rule.half_life_days else 1.0)
    keep = max(counted, cond.min_count)
    evidence = [a.source_id for _, a in newest_first[: min(keep, EVIDENCE_LIMIT)]]
    expiry = matching[max(k - keep, 0)][0] + rule.window_days * DAY
    return points, evidence, expiry


def _revisit_hit(rule: Rule, cond: RevisitCondition, acts: list[tuple[float, Activity]], now: float, zone: ZoneInfo
                 ) -> tuple[float, list[str], float | None] | None:
    start = now - rule.window_days * DAY
    last_of_day: dict[int, tuple[float, Activity]] = {}
    for t, a in acts:
        if a.type.value == "web_visit" and start < t <= now:
            last_of_day[local_day(t, zone)] = (t, a)  # acts are in time order: the last one wins
    days = sorted(last_of_day)
    m = cond.min_days
    qualifying = [i for i in range(len(days) - m + 1) if days[i + m - 1] - days[i] <= cond.period_days - 1]
    if not qualifying:
        return None
    i = qualifying[-1]
    chosen = [last_of_day[d] for d in days[i:i + m]][::-1]
    newest = chosen[0][0]
    decay = 0.5 ** ((now - newest) / (rule.half_life_days * DAY)) if rule.half_life_days else 1.0
    expiry = last_of_day[days[i]][0] + rule.window_days * DAY
    return rule.points * decay, [a.source_id for _, a in chosen], expiry


def score_lead(sheet: ScoringSheet, lead: Lead, activities: Sequence[Activity], as_of: datetime,
               settings: ScoringSettings | None = None) -> Score:
    """Score one lead as of `as_of` with the sheet; the breakdown lists every rule that fired."""
    now = as_of.timestamp()
    zone = ZoneInfo(sheet.timezone)
    acts = sorted(((a.occurred_at.timestamp(), a) for a in activities), key=lambda pair: pair[0])
    hits: list[tuple[Rule, float, list[str]]] = []
    expiries: list[float] = []
    behaviour_types: set[str] = set()
    for rule in sheet.rules:
        cond = rule.condition
        if isinstance(cond, (ActivityCondition, RevisitCondition)):
            behaviour_types |= cond.types if isinstance(cond, ActivityCondition) else {"web_visit"}
            found = (_activity_hit(rule, cond, acts, now) if isinstance(cond, ActivityCondition)
                     else _revisit_hit(rule, cond, acts, now, zone))
            if found is not None:
                points, evidence, expiry = found
                hits.append((rule, points, evidence))
                if expiry is not None and rule.points != 0:
                    expiries.append(expiry)
        elif isinstance(cond, FieldCondition):
            shown = cond.test(field_value(lead, cond.field))
            if shown is not None:
                hits.append((rule, rule.points, [shown]))
        elif isinstance(cond, PluginCondition):
            start = now - rule.window_days * DAY
            recent = [a for t, a in acts if start < t <= now]
            result = cond.condition(lead, recent, as_of)
            if result:
                evidence = [str(e) for e in result] if isinstance(result, (list, tuple)) else [cond.describe()]
                hits.append((rule, rule.points, evidence))
    kept, behaviour, attribute = combine(sheet, hits)
    future = [t for t, a in acts if t > now and a.type.value in behaviour_types]
    candidates = expiries + future[:1]
    decaying = [(p, r.half_life_days) for r, p, _ in kept if r.is_behaviour and r.half_life_days]
    constant = sum(p for r, p, _ in kept if r.is_behaviour and not r.half_life_days)
    step = decay_change_after(constant, [(p, h) for p, h in decaying if h])
    if step is not None:
        candidates.append(math.ceil((now + step) / 60.0) * 60.0 + 60.0)
    return make_score(sheet, lead.key, lead.email, as_of, kept, behaviour, attribute,
                      min(candidates) if candidates else None)


def make_score(sheet: ScoringSheet, key: str, email: str | None, as_of: datetime,
               kept: list[tuple[Rule, float, list[str]]], behaviour: float, attribute: float,
               next_change: float | None) -> Score:
    b, a = round_half_up(behaviour), round_half_up(attribute)
    return Score(
        lead_key=key, email=email, total=b + a, behavior=b, attribute=a, segment=sheet.segment_for(b + a),
        sheet_version=sheet.version, scored_at=as_of,
        breakdown=[RuleHit(rule=r.name, group=r.group, points=round(p, 2), evidence=e) for r, p, e in kept],
        next_change_at=None if next_change is None else datetime.fromtimestamp(next_change, UTC),
    )


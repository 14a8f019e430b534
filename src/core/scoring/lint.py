"""`score lint`: gaps or overlaps between segment bands, and rules that can never fire."""

from __future__ import annotations

from dataclasses import dataclass

from leadsync.core.models import Segment
from leadsync.core.scoring.rules import (
    FieldCondition,
    RevisitCondition,
    never_fires_reason,
)
from leadsync.core.scoring.sheet import ScoringSheet

__all__ = ["Finding", "lint_sheet", "max_total"]


@dataclass(frozen=True)
class Finding:
    where: str  # "row 12" / "segments"
    rule: str
    message: str


def _fmt(value: float) -> str:
    return f"{value:g}"


def _band_findings(sheet: ScoringSheet) -> list[Finding]:
    found: list[Finding] = []
    bands = sheet.bands
    order = [Segment.COLD, Segment.WARM, Segment.HOT]
    names = {Segment.HOT: "ホットリード", Segment.WARM: "ウォームリード", Segment.COLD: "コールドリード"}

    def where(segment: Segment) -> str:
        row = sheet.band_rows.get(segment)
        return f"row {row}" if row else "segments"

    if Segment.COLD not in sheet.band_rows and sheet.band_rows:
        found.append(Finding("segments", names[Segment.COLD], "no row for the cold segment; totals below warm count as cold"))
    for segment in order:
        low, high = bands[segment]
        if low is not None and high is not None and low > high:
            found.append(Finding(where(segment), names[segment], f"empty band {_fmt(low)}-{_fmt(high)}"))
    cold_low = bands[Segment.COLD][0]
    if cold_low is not None:
        found.append(Finding(where(Segment.COLD), names[Segment.COLD], f"totals below {_fmt(cold_low)} fall in no band"))
    hot_high = bands[Segment.HOT][1]
    if hot_high is not None:
        found.append(Finding(where(Segment.HOT), names[Segment.HOT], f"totals above {_fmt(hot_high)} fall in no band"))
    for lower, upper in ((Segment.COLD, Segment.WARM), (Segment.WARM, Segment.HOT)):
        top, bottom = bands[lower][1], bands[upper][0]
        if top is None or bottom is None:
            if top is None and lower != Segment.HOT:
                found.append(Finding(where(lower), names[lower], f"open upper end overlaps {names[upper]}"))
            continue
        if top + 1 < bottom:
            found.append(Finding(where(upper), names[upper],
                                 f"gap: totals {_fmt(top + 1)}-{_fmt(bottom - 1)} fall between {names[lower]} and {names[upper]}"))
        elif top >= bottom:
            found.append(Finding(where(upper), names[upper],
                                 f"overlap: totals {_fmt(bottom)}-{_fmt(top)} are in both {names[lower]} and {names[upper]}"))
    return found


def max_total(sheet: ScoringSheet) -> float:
    """The highest total any lead could reach (positive rows; exclusive groups count their best row)."""
    total = 0.0
    best: dict[str, float] = {}
    for rule in sheet.rules:
        if rule.points <= 0:
            continue
        if rule.is_behaviour:
            total += rule.points * (rule.cap if rule.cap is not None else 1)
        else:
            best[rule.group] = max(best.get(rule.group, 0.0), rule.points)
    return total + sum(best.values())


def lint_sheet(sheet: ScoringSheet) -> list[Finding]:
    """Everything `score lint` reports; an empty list means the sheet is clean."""
    found = _band_findings(sheet)
    for rule in sheet.rules:
        where = f"row {rule.row}"
        cond = rule.condition
        reason = never_fires_reason(cond)
        if reason:
            found.append(Finding(where, rule.name, f"can never fire: {reason}"))
        if rule.cap == 0:
            found.append(Finding(where, rule.name, "can never fire: cap is 0"))
        if isinstance(cond, RevisitCondition) and cond.min_days > cond.period_days:
            found.append(Finding(where, rule.name, f"can never fire: {cond.min_days} different days cannot fit in {cond.period_days} days"))
        if isinstance(cond, FieldCondition) and cond.op == "range" and cond.field == "employees" and cond.values[1] < 0:
            found.append(Finding(where, rule.name, "can never fire: employee counts are never negative"))
        if rule.points == 0:
            found.append(Finding(where, rule.name, "scores 0 points"))
    reachable = max_total(sheet)
    if reachable < sheet.hot_min:
        found.append(Finding("segments", "ホットリード", f"no lead can reach hot: the highest possible total is {_fmt(reachable)}"))
    return found

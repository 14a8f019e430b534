"""`score calibrate`: how each scoring-sheet row's leads actually converted, and suggested points."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["calibrate_report", "segment_moves"]


def _ratio(part: float, whole: float) -> float | None:
    return round(part / whole, 4) if whole else None


def _round_to(value: float, step: int) -> int:
    return int(step * round(value / step))


def calibrate_report(
    rows: Sequence[tuple[str, str, float]], total: int, positive: int, fired: Mapping[str, tuple[int, int]], *,
    outcome: str, min_leads: int = 20, step: int = 5, max_lift: float = 3.0,
) -> dict[str, Any]:
    """Per sheet row (name, group, points): leads it fired for, their outcome rate, the rate of
    the other leads, lift = rate / rest rate, and suggested points = points x lift (lift capped at
    `max_lift`), rounded to `step`. Rows that fired for fewer than `min_leads` leads, or whose
    lift cannot be measured, keep their points."""
    result = []
    for name, group, points in rows:
        hits, hit_positive = fired.get(name, (0, 0))
        rate = _ratio(hit_positive, hits)
        rest_rate = _ratio(positive - hit_positive, total - hits)
        lift = round(rate / rest_rate, 2) if rate is not None and rest_rate else None
        enough = hits >= min_leads and lift is not None
        suggested = _round_to(points * min(lift, max_lift), step) if enough else points  # type: ignore[type-var]
        result.append({
            "rule": name, "group": group, "points": points, "leads": hits, "converted": hit_positive,
            "rate": rate, "rest_rate": rest_rate, "lift": lift,
            "suggested_points": suggested,
            "note": "" if enough else (f"fewer than {min_leads} leads" if hits < min_leads else "no lift measurable"),
        })
    return {"outcome": outcome, "leads": total, "converted": positive, "base_rate": _ratio(positive, total),
            "min_leads": min_leads, "rules": result}


def segment_moves(moves: Sequence[tuple[str, str, str]], converted: set[str], *, outcome: str) -> list[dict[str, Any]]:
    """For leads changing segment (lead key, old, new): per (old, new) pair, how many and how
    many of them actually reached the outcome."""
    pairs: dict[tuple[str, str], list[int]] = {}
    for key, old, new in moves:
        slot = pairs.setdefault((old, new), [0, 0])
        slot[0] += 1
        slot[1] += key in converted
    return [{"from": old, "to": new, "leads": n, "converted": c, "rate": _ratio(c, n), "outcome": outcome}
            for (old, new), (n, c) in sorted(pairs.items())]

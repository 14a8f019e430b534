"""`report mql`: what became of the handed-off leads, with each pass rate and the cross-team
indicator "MA score x pass rate x win rate"."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from leadsync.core.normalize import lead_source_label

__all__ = ["mql_report"]

UNKNOWN = "(unknown)"


def _ratio(part: float, whole: float) -> float | None:
    return round(part / whole, 4) if whole else None


def _entry(counts: Mapping[str, Any]) -> dict[str, Any]:
    handoffs, accepted = counts["handoffs"], counts["accepted"]
    meetings, opportunities, won = counts["meetings"], counts["opportunities"], counts["won"]
    pass_rate = _ratio(accepted, handoffs)
    win_rate = _ratio(won, opportunities)
    mean = counts.get("mean_score")
    return {
        "handoffs": handoffs, "accepted": accepted, "meetings": meetings, "opportunities": opportunities, "won": won,
        "rates": {
            "pass_rate": pass_rate,
            "meeting_rate": _ratio(meetings, accepted),
            "opportunity_rate": _ratio(opportunities, meetings),
            "win_rate": win_rate,
            "handoff_to_won": _ratio(won, handoffs),
        },
        "mean_score": round(mean, 1) if mean is not None else None,
        "indicator": (round(mean * pass_rate * win_rate, 2)
                      if mean is not None and pass_rate is not None and win_rate is not None else None),
    }


def mql_report(period: Mapping[str, str], groups: Sequence[Mapping[str, Any]], *, by: str | None,
               language: str = "ja") -> dict[str, Any]:
    """Totals and per-group funnels from `mql_passes` rows (one row per group key); a source group
    (keyed by its canonical code) also has its `label` in `language`."""
    fields = ("handoffs", "accepted", "meetings", "opportunities", "won")
    total: dict[str, Any] = {f: sum(int(g[f]) for g in groups) for f in fields}
    weighted = sum((g["mean_score"] or 0) * g["handoffs"] for g in groups)
    total["mean_score"] = weighted / total["handoffs"] if total["handoffs"] else None
    report = {"from": period["from"], "to": period["to"], "by": by, **_entry(total), "groups": []}
    if by is not None:
        for group in groups:
            key = group["key"]
            label = f"{key}-{int(key) + 9}" if by == "score_band" and key != "" else (key or UNKNOWN)
            entry = {"key": label, **_entry(group)}
            if by == "source":
                entry["label"] = lead_source_label(key, language) if key else UNKNOWN
            report["groups"].append(entry)
    return report

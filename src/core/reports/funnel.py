"""`report funnel` and `report call-timing`: the inside-sales funnel, its rates beside the
benchmarks, and connect rates by weekday and hour."""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from typing import Any

from leadsync.core.normalize import lead_source_label

__all__ = [
    "BENCHMARKS",
    "STAGES",
    "WEEKDAYS",
    "call_timing_report",
    "funnel_report",
    "rates",
    "source_benchmark",
]

STAGES = ("calls", "connects", "conversations", "meetings_set", "meetings_held", "opportunities", "wins", "losses")
# name -> (numerator, denominator stage(s))
RATE_DEFINITIONS: dict[str, tuple[str, tuple[str, ...]]] = {
    "connect_rate": ("connects", ("calls",)),
    "conversation_rate": ("conversations", ("calls",)),
    "meeting_rate": ("meetings_set", ("connects",)),
    "opportunity_rate": ("opportunities", ("meetings_held",)),
    "win_rate": ("wins", ("wins", "losses")),
}
# B2B SaaS inside-sales benchmarks (low, high).
BENCHMARKS: dict[str, tuple[float, float]] = {
    "connect_rate": (0.20, 0.30),
    "meeting_rate": (0.10, 0.20),
    "opportunity_rate": (0.30, 0.40),
    "win_rate": (0.20, 0.30),
}
# Meeting rate (connect -> meeting) by lead source kind, and the words that name each kind
# (for sources outside the canonical vocabulary of leadsync.core.normalize.LEAD_SOURCES).
SOURCE_BENCHMARKS: dict[str, tuple[tuple[float, float], tuple[str, ...]]] = {
    "trade_show": ((0.15, 0.25), ("展示会", "tradeshow", "expo", "exhibition", "イベント")),
    "seminar": ((0.10, 0.15), ("セミナー", "seminar", "ウェビナー", "webinar")),
    "web_inquiry": ((0.05, 0.20), ("問い合わせ", "問合せ", "inquiry", "contactus", "contact")),
    "document_download": ((0.03, 0.08), ("資料", "download", "ダウンロード", "whitepaper", "ホワイトペーパー")),
}
# The benchmark kind of each canonical lead-source code.
SOURCE_KINDS = {"trade_show": "trade_show", "seminar": "seminar", "webinar": "seminar", "web_inquiry": "web_inquiry",
                "phone_inquiry": "web_inquiry", "content_download": "document_download"}
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
WEEKDAYS_JA = ("月", "火", "水", "木", "金", "土", "日")
UNKNOWN = "(unknown)"


def _ratio(part: float, whole: float) -> float | None:
    return round(part / whole, 4) if whole else None


def rates(stages: Mapping[str, float]) -> dict[str, float | None]:
    """The five rates of a stage count; None where the denominator is zero."""
    return {name: _ratio(stages.get(num, 0), sum(stages.get(d, 0) for d in den))
            for name, (num, den) in RATE_DEFINITIONS.items()}


def source_benchmark(source: str | None) -> dict[str, Any] | None:
    """The meeting-rate benchmark of a lead source ('trade_show', or a text outside the vocabulary
    such as '秋の展示会'), None if unknown."""
    if not source:
        return None
    if source in SOURCE_KINDS:
        kind = SOURCE_KINDS[source]
        low, high = SOURCE_BENCHMARKS[kind][0]
        return {"kind": kind, "meeting_rate": {"low": low, "high": high}}
    folded = "".join(ch for ch in unicodedata.normalize("NFKC", source).casefold() if not ch.isspace() and ch not in "-_")
    for kind, ((low, high), words) in SOURCE_BENCHMARKS.items():
        if any(word in folded for word in words):
            return {"kind": kind, "meeting_rate": {"low": low, "high": high}}
    return None


def _stages(counts: Mapping[str, float]) -> dict[str, int]:
    return {stage: int(counts.get(stage, 0)) for stage in STAGES}


def _per_rep_day(calls: float, reps: float, days: int) -> float | None:
    return round(calls / reps / days, 1) if reps and days else None


def funnel_report(
    period: Mapping[str, str], total: Mapping[str, float], groups: Mapping[str, Mapping[str, float]] | None,
    *, by: str | None, business_days: int, calls_per_day_benchmark: float = 34, language: str = "ja",
) -> dict[str, Any]:
    """The funnel JSON from stage counts: `total` for the period, `groups` per group key (month
    and week labels, owners, sources' canonical codes, segments; '' is an unknown owner, source or
    segment). A source group also has its `label` in `language`."""
    report: dict[str, Any] = {
        "from": period["from"], "to": period["to"], "by": by,
        "stages": _stages(total),
        "rates": rates(total),
        "benchmarks": {**{name: {"low": low, "high": high} for name, (low, high) in BENCHMARKS.items()},
                       "calls_per_rep_per_day": calls_per_day_benchmark},
        "activity": {
            "reps": int(total.get("reps", 0)), "business_days": business_days,
            "calls_per_rep_per_day": _per_rep_day(total.get("calls", 0), total.get("reps", 0), business_days),
        },
        "won_amount": total.get("won_amount", 0.0),
        "groups": [],
    }
    for key in sorted(groups or {}, key=lambda k: (k == "", k)):
        counts = groups[key]  # type: ignore[index]
        entry: dict[str, Any] = {"key": key or UNKNOWN, "stages": _stages(counts), "rates": rates(counts)}
        if by == "source":
            entry["label"] = lead_source_label(key, language) if key else UNKNOWN
            entry["benchmark"] = source_benchmark(key)
        if by == "owner" and key:
            entry["calls_per_day"] = round(counts.get("calls", 0) / business_days, 1) if business_days else None
        report["groups"].append(entry)
    return report


def call_timing_report(period: Mapping[str, str], cells: list[tuple[int, int, int, int]], *,
                       best: int = 5, min_calls: int = 10) -> dict[str, Any]:
    """Connects / calls per (weekday, hour) cell; `best` lists the highest connect rates among
    cells with at least `min_calls` calls (all cells when none has that many)."""
    merged: dict[tuple[int, int], list[int]] = {}
    for weekday, hour, calls, connects in cells:
        slot = merged.setdefault((int(weekday), int(hour)), [0, 0])
        slot[0] += calls
        slot[1] += connects
    rows = [
        {"weekday": WEEKDAYS[wd], "hour": hr, "calls": c, "connects": k, "connect_rate": _ratio(k, c)}
        for (wd, hr), (c, k) in sorted(merged.items())
    ]
    eligible = [r for r in rows if r["calls"] >= min_calls] or rows
    ranked = sorted(eligible, key=lambda r: (-(r["connect_rate"] or 0), -r["calls"], WEEKDAYS.index(r["weekday"]), r["hour"]))
    calls = sum(r["calls"] for r in rows)
    connects = sum(r["connects"] for r in rows)
    return {"from": period["from"], "to": period["to"], "calls": calls, "connects": connects,
            "connect_rate": _ratio(connects, calls), "cells": rows, "best": ranked[:best]}

"""The KPI reports assembled: state operations (indexed aggregates) in, report dicts out."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from leadsync.core.config import Settings
from leadsync.core.handoff.calendar import BusinessCalendar
from leadsync.core.normalize import normalize_lead_source
from leadsync.core.reports.calibrate import calibrate_report, segment_moves
from leadsync.core.reports.funnel import call_timing_report, funnel_report
from leadsync.core.reports.mql import mql_report
from leadsync.core.reports.periods import Period, business_days, split_by_offset, split_period
from leadsync.core.reports.plan import back_calculate, choose_rates
from leadsync.core.state import kpi as kpi_state
from leadsync.core.state.opportunities import converted_leads
from leadsync.core.state.store import StateStore

__all__ = ["build_calibration", "build_call_timing", "build_funnel", "build_mql", "build_plan", "call_rules",
           "converted_moves"]


def call_rules(settings: Settings) -> kpi_state.CallRules:
    k = settings.kpi
    return kpi_state.CallRules(k.connect_seconds, k.conversation_seconds, tuple(k.connected_outcomes))


def calendar(settings: Settings) -> BusinessCalendar:
    return BusinessCalendar.from_settings(settings.handoff, settings.scoring.timezone)


def _source_code(key: str) -> str:
    """The canonical code of a stored lead source ('' stays unknown): leads stored before the
    vocabulary, or read from a sheet, may still hold '展示会' or 'Trade Show'."""
    return normalize_lead_source(key) or "" if key else ""


def _fold_sources(groups: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
    """Stage counts of the same lead source under different spellings, summed under its code."""
    folded: dict[str, dict[str, float]] = {}
    for key, counts in groups.items():
        into = folded.setdefault(_source_code(key), {})
        for name, value in counts.items():
            into[name] = into.get(name, 0) + (value or 0)
    return folded


def _fold_mql_sources(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """`mql_passes` rows of the same lead source under different spellings, merged under its code."""
    folded: dict[str, dict[str, Any]] = {}
    for row in rows:
        code = _source_code(row["key"])
        into = folded.setdefault(code, {"key": code, "handoffs": 0, "accepted": 0, "meetings": 0, "opportunities": 0,
                                        "won": 0, "score_sum": 0.0, "scored": 0})
        for name in ("handoffs", "accepted", "meetings", "opportunities", "won"):
            into[name] += row[name]
        if row.get("mean_score") is not None:
            into["score_sum"] += row["mean_score"] * row["handoffs"]
            into["scored"] += row["handoffs"]
    merged = []
    for code in sorted(folded):
        row = folded[code]
        scored, total = row.pop("scored"), row.pop("score_sum")
        merged.append({**row, "mean_score": total / scored if scored else None})
    return merged


def _period_json(period: Period) -> dict[str, str]:
    return {"from": period.first.isoformat(), "to": period.last.isoformat()}


def build_funnel(store: StateStore, settings: Settings, period: Period, by: str | None) -> dict[str, Any]:
    """`report funnel` over the period, grouped by source, owner, segment, month or week."""
    rules = call_rules(settings)
    total = kpi_state.stage_counts(store.db, period.start, period.end, rules).get("", {})
    groups: dict[str, dict[str, float]] | None = None
    if by in ("month", "week"):
        groups = {label: kpi_state.stage_counts(store.db, part.start, part.end, rules).get("", {})
                  for label, part in split_period(period, by)}
    elif by is not None:
        groups = kpi_state.stage_counts(store.db, period.start, period.end, rules, by)
        if by == "source":
            groups = _fold_sources(groups)
    days = business_days(period, calendar(settings).is_business_day)
    return funnel_report(_period_json(period), total, groups, by=by, business_days=days,
                         calls_per_day_benchmark=settings.kpi.calls_per_day_benchmark,
                         language=settings.handoff.language)


def build_call_timing(store: StateStore, settings: Settings, period: Period) -> dict[str, Any]:
    rules = call_rules(settings)
    cells: list[tuple[int, int, int, int]] = []
    for start, end, offset in split_by_offset(period):
        cells += kpi_state.call_timing(store.db, start, end, rules, offset)
    return call_timing_report(_period_json(period), cells)


def build_mql(store: StateStore, period: Period, by: str | None, language: str = "ja") -> dict[str, Any]:
    rows = kpi_state.mql_passes(store.db, period.start, period.end, by)
    if by == "source":
        rows = _fold_mql_sources(rows)
    return mql_report(_period_json(period), rows, by=by, language=language)


def build_plan(
    store: StateStore, settings: Settings, *, today: date, meetings: int | None, revenue: float | None,
    target: Period, history_days: int, given: dict[str, float | None], reps: int | None, deal_size: float | None,
) -> dict[str, Any]:
    """The back-calculation for the target period, rates from the `history_days` before `today`."""
    history = Period(today - timedelta(days=history_days), today - timedelta(days=1), settings.scoring.timezone)
    counts = kpi_state.stage_counts(store.db, history.start, history.end, call_rules(settings)).get("", {})
    rates = choose_rates(counts, given, min_history=settings.kpi.min_history)
    if deal_size is None and revenue is not None:
        won, amount = kpi_state.won_amounts(store.db, history.start, history.end)
        deal_size = amount / won if won else None
    days = business_days(target, calendar(settings).is_business_day)
    team = reps if reps is not None else int(counts.get("reps", 0)) or 1
    plan = back_calculate(meetings=meetings, revenue=revenue, rates=rates, deal_size=deal_size,
                          business_days=days, reps=team, period=_period_json(target))
    plan["history"] = {**_period_json(history), "reps": int(counts.get("reps", 0))}
    plan["reps_source"] = "given" if reps is not None else ("history" if counts.get("reps") else "default")
    return plan


def build_calibration(store: StateStore, sheet: Any, outcome: str, *, min_leads: int = 20) -> dict[str, Any]:
    total, positive, fired = kpi_state.rule_outcomes(store.db, outcome)
    rows = [(rule.name, rule.group, rule.points) for rule in sheet.rules]
    return calibrate_report(rows, total, positive, {name: (n, p) for name, n, p in fired}, outcome=outcome,
                            min_leads=min_leads)


def converted_moves(store: StateStore, moves: list[tuple[str, str, str]], outcome: str) -> list[dict[str, Any]]:
    """`score backtest`'s segment changes with how those leads actually converted."""
    return segment_moves(moves, converted_leads(store.db, outcome), outcome=outcome)

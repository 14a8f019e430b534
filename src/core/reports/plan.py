"""`leadsync plan`: the back-calculation from a goal (KGI) to calls per rep per business day."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from leadsync.core.reports.funnel import BENCHMARKS, RATE_DEFINITIONS

__all__ = ["PLAN_RATES", "PlanError", "back_calculate", "choose_rates"]

PLAN_RATES = ("connect_rate", "meeting_rate", "opportunity_rate", "win_rate")


class PlanError(ValueError):
    """The plan cannot be made from what was given (no deal size for a revenue goal, a zero rate)."""


def _up(value: float) -> int:
    """Round a needed count up, ignoring float noise (200.00000000001 needs 200)."""
    return math.ceil(round(value, 6))


def choose_rates(history: Mapping[str, float], given: Mapping[str, float | None], *, min_history: int
                 ) -> dict[str, dict[str, Any]]:
    """Each plan rate with its source: 'given' (an option), 'history' (the team's own, measured
    on at least `min_history` cases) or 'benchmark' (the midpoint of the benchmark range, when
    history is thinner). `history` holds stage counts over the history window."""
    chosen: dict[str, dict[str, Any]] = {}
    for name in PLAN_RATES:
        if given.get(name) is not None:
            value = float(given[name])  # type: ignore[arg-type]
            if not 0 < value <= 1:
                raise PlanError(f"--{name.replace('_', '-')} must be above 0 and at most 1, not {value}")
            chosen[name] = {"value": value, "source": "given"}
            continue
        numerator, denominators = RATE_DEFINITIONS[name]
        whole = sum(history.get(d, 0) for d in denominators)
        part = history.get(numerator, 0)
        if whole >= min_history and part > 0:
            chosen[name] = {"value": round(part / whole, 4), "source": "history", "measured_on": int(whole)}
        else:
            low, high = BENCHMARKS[name]
            chosen[name] = {"value": round((low + high) / 2, 4), "source": "benchmark", "measured_on": int(whole)}
    return chosen


def back_calculate(
    *, meetings: int | None, revenue: float | None, rates: Mapping[str, Mapping[str, Any]],
    deal_size: float | None, business_days: int, reps: int, period: Mapping[str, str],
) -> dict[str, Any]:
    """wins = revenue / deal size; opportunities = wins / win rate; meetings = opportunities /
    opportunity rate; connects = meetings / meeting rate; calls = connects / connect rate; each
    rounded up. With a meetings goal, opportunities and wins are what those meetings should yield."""
    if (meetings is None) == (revenue is None):
        raise PlanError("give exactly one goal: --meetings N or --revenue AMOUNT")
    rate = {name: float(rates[name]["value"]) for name in PLAN_RATES}
    targets: dict[str, Any] = {}
    if revenue is not None:
        if not deal_size or deal_size <= 0:
            raise PlanError("a revenue goal needs the average won amount: no won opportunity with an amount in "
                            "the history window; give --deal-size")
        targets = {"revenue": revenue, "deal_size": round(deal_size, 2)}
        wins: float = _up(revenue / deal_size)
        opportunities: float = _up(wins / rate["win_rate"])
        needed_meetings = _up(opportunities / rate["opportunity_rate"])
    else:
        if meetings is None or meetings <= 0:
            raise PlanError("--meetings must be a positive number")
        targets = {"meetings": meetings}
        needed_meetings = meetings
        opportunities = round(meetings * rate["opportunity_rate"], 1)
        wins = round(opportunities * rate["win_rate"], 1)
    connects = _up(needed_meetings / rate["meeting_rate"])
    calls = _up(connects / rate["connect_rate"])
    reps = max(reps, 1)
    return {
        "from": period["from"], "to": period["to"],
        "targets": targets,
        "rates": {name: dict(rates[name]) for name in PLAN_RATES},
        "calls": calls, "connects": connects, "meetings": needed_meetings,
        "opportunities": opportunities, "wins": wins,
        "business_days": business_days, "reps": reps,
        "calls_per_rep_per_day": round(calls / reps / business_days, 1) if business_days else None,
        "meetings_per_rep": round(needed_meetings / reps, 1),
    }

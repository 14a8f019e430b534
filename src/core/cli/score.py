"""`leadsync score`: explain one lead's score, lint the sheet, backtest a candidate sheet."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import click
from leadsync.core.cli.app import App, as_of_option, pass_app
from leadsync.core.cli.output import echo_json, print_table
from leadsync.core.errors import ConfigError
from leadsync.core.models import Score
from leadsync.core.normalize import normalize_email
from leadsync.core.scoring import (
    load_configured_sheet,
    load_sheet,
    score_lead,
    scoring_conditions,
)
from leadsync.core.scoring.backtest import backtest as run_backtest
from leadsync.core.scoring.lint import lint_sheet
from leadsync.core.scoring.loader import load_lead
from leadsync.core.state import leads
from leadsync.core.state.store import StateStore

__all__ = ["score"]

_FORMAT = click.Choice(["table", "json"])


@click.group("score")
def score() -> None:
    """Explain lead scores, lint the scoring sheet, backtest a new sheet."""


def _find_lead_key(store: StateStore, email: str) -> str | None:
    key = normalize_email(email) or email.strip()
    return leads.find_key(store.db, key)


def _points(value: float) -> int | float:
    """30.0 -> 30; fractional points (decay) stay as they are."""
    return int(value) if float(value).is_integer() else round(value, 2)


def explain_json(result: Score, zone: str = "UTC", max_total: float | None = None) -> dict[str, Any]:
    """Total (and the sheet's maximum), breakdown and segment, plus lead_key, as_of and
    next_change_at in `zone` (ISO 8601)."""
    tz = ZoneInfo(zone)
    return {
        "email": result.email,
        "lead_key": result.lead_key,
        "total": result.total,
        "max_total": None if max_total is None else _points(max_total),
        "behavior": result.behavior,
        "attribute": result.attribute,
        "segment": result.segment.value,
        "sheet_version": result.sheet_version,
        "as_of": result.scored_at.astimezone(tz).isoformat(),
        "next_change_at": result.next_change_at.astimezone(tz).isoformat() if result.next_change_at else None,
        "breakdown": [
            {"rule": hit.rule, "group": hit.group, "points": _points(hit.points), "evidence": hit.evidence}
            for hit in result.breakdown
        ],
    }


def _evidence(activities: Any, zone: str, language: str) -> dict[str, str]:
    """Activity id -> 'YYYY-MM-DD HH:MM type URL-or-title' in the configured zone and language."""
    from leadsync.core.handoff.text import ACTIVITY_LABELS

    labels = ACTIVITY_LABELS.get(language, ACTIVITY_LABELS["en"])
    tz = ZoneInfo(zone)
    described: dict[str, str] = {}
    for activity in activities:
        what = activity.url or activity.details.get("title") or activity.details.get("name") or ""
        label = labels.get(activity.type.value, activity.type.value)
        text = f"{activity.occurred_at.astimezone(tz).strftime('%Y-%m-%d %H:%M')} {label} {what}".strip()
        described[activity.source_id] = text
        if activity.connection:
            described.setdefault(f"{activity.connection}:{activity.source_id}", text)
    return described


@score.command("explain")
@click.argument("email")
@click.option("--format", "fmt", type=_FORMAT, default="table", show_default=True, help="Output format.")
@as_of_option
@pass_app
def explain(app: App, email: str, fmt: str, as_of: str | None) -> None:
    """Why EMAIL has its score: every rule that fired, its points and evidence."""
    moment = app.now(as_of)
    sheet = load_configured_sheet(app.settings, app.host)
    store = app.open_store(readonly=True)
    key = _find_lead_key(store, email)
    found = load_lead(store, key) if key else None
    if found is None:
        raise ConfigError(f"no lead with e-mail {email!r} in {store.path}")
    lead, activities = found
    result = score_lead(sheet, lead, activities, moment, app.settings.scoring)
    if fmt == "json":
        echo_json(explain_json(result, app.settings.scoring.timezone, sheet.max_total))
        return
    title = (f"{result.email or result.lead_key}: {result.total}/{_points(sheet.max_total)} points "
             f"({result.segment.value}, hot from {_points(sheet.hot_min)}) = "
             f"behaviour {result.behavior} + attribute {result.attribute}, sheet {result.sheet_version}")
    described = _evidence(activities, app.settings.scoring.timezone, app.settings.handoff.language)
    print_table(title, ["rule", "group", "points", "evidence"],
                [(h.rule, h.group, f"{h.points:g}", "\n".join(described.get(e, e) for e in h.evidence))
                 for h in result.breakdown])
    if result.next_change_at:
        when = result.next_change_at.astimezone(ZoneInfo(app.settings.scoring.timezone))
        click.echo(f"next change without new data: {when.strftime('%Y-%m-%d %H:%M %Z')}")


@score.command("lint")
@click.option("--sheet", "sheet_path", type=click.Path(path_type=Path), help="Sheet to check (default: scoring.sheet).")
@click.option("--format", "fmt", type=_FORMAT, default="table", show_default=True, help="Output format.")
@pass_app
def lint(app: App, sheet_path: Path | None, fmt: str) -> None:
    """Band gaps or overlaps and rules that can never fire. Exit 0: clean, 1: findings."""
    sheet = (load_sheet(sheet_path, app.settings.scoring, scoring_conditions(app.host)) if sheet_path
             else load_configured_sheet(app.settings, app.host))
    findings = lint_sheet(sheet)
    if fmt == "json":
        echo_json({"sheet": str(sheet.path), "sheet_version": sheet.version,
                   "findings": [{"where": f.where, "rule": f.rule, "message": f.message} for f in findings]})
    elif findings:
        print_table(f"{sheet.path}: {len(findings)} finding(s)", ["where", "rule", "finding"],
                    [(f.where, f.rule, f.message) for f in findings])
    else:
        click.echo(f"{sheet.path}: clean (sheet version {sheet.version})")
    if findings:
        sys.exit(1)


@score.command("backtest")
@click.option("--sheet", "sheet_path", required=True, type=click.Path(path_type=Path), help="Candidate sheet.")
@click.option("--format", "fmt", type=_FORMAT, default="table", show_default=True, help="Output format.")
@click.option("--limit", default=50, show_default=True, help="Leads listed in the table.")
@click.option("--outcome", type=click.Choice(["meeting", "opportunity", "won"]), default="meeting",
              show_default=True, help="Conversion shown for the leads that change segment.")
@as_of_option
@pass_app
def backtest(app: App, sheet_path: Path, fmt: str, limit: int, outcome: str, as_of: str | None) -> None:
    """How many leads would change segment under the candidate sheet, and which."""
    moment = app.now(as_of)
    current = load_configured_sheet(app.settings, app.host)
    candidate = load_sheet(sheet_path, app.settings.scoring, scoring_conditions(app.host))
    store = app.open_store(readonly=True)
    compared, moved = run_backtest(store, current, candidate, app.settings.scoring, moment)
    transitions: dict[tuple[str, str], int] = {}
    for row in moved:
        transitions[(row.old_segment, row.new_segment)] = transitions.get((row.old_segment, row.new_segment), 0) + 1
    from leadsync.core.reports.kpi import converted_moves

    conversion = converted_moves(store, [(r.lead_key, r.old_segment, r.new_segment) for r in moved], outcome)
    if fmt == "json":
        echo_json({
            "as_of": moment.isoformat(), "current_version": current.version, "candidate_version": candidate.version,
            "leads": compared, "changed": len(moved),
            "transitions": [{"from": a, "to": b, "count": n} for (a, b), n in sorted(transitions.items())],
            "conversion": conversion,
            "leads_changed": [{"email": r.email, "lead_key": r.lead_key, "old_total": r.old_total,
                               "new_total": r.new_total, "old_segment": r.old_segment, "new_segment": r.new_segment}
                              for r in moved],
        })
        return
    click.echo(f"{len(moved)} of {compared} leads change segment ({current.version} -> {candidate.version})")
    if transitions:
        print_table("transitions", ["from", "to", "leads", f"converted ({outcome})", "rate"],
                    [(c["from"], c["to"], c["leads"], c["converted"],
                      "-" if c["rate"] is None else f"{c['rate']:.0%}") for c in conversion])
        print_table(f"leads (first {min(limit, len(moved))})", ["email", "old", "new", "old segment", "new segment"],
                    [(r.email or r.lead_key, r.old_total, r.new_total, r.old_segment, r.new_segment)
                     for r in moved[:limit]])

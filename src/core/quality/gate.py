"""Applying the quality rules: verdicts for one lead, conflicts at ingest, releases, the report."""

from __future__ import annotations

import sqlite3
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from leadsync.core.config import QualitySettings
from leadsync.core.errors import ConfigError
from leadsync.core.models import Lead
from leadsync.core.normalize import normalize_email
from leadsync.core.quality.rules import RULES, Finding, conflicts, findings
from leadsync.core.state import quality as state

__all__ = ["Verdict", "check", "held", "quality_report", "quarantining_rules", "record_agreement",
           "record_conflicts", "release_lead"]

# Rules that find nothing until their list is configured: {rule: the QualitySettings list it needs}.
_NEEDS_LIST = {"competitor": "competitors", "required_fields": "required"}
_HELD_CHUNK = 5_000  # leads read per statement by `held`


@dataclass
class Verdict:
    """What the gate says about one lead."""

    findings: list[Finding] = field(default_factory=list)
    release: state.Release | None = None

    @property
    def holding(self) -> list[Finding]:
        """Quarantine findings a person has not released."""
        released = set(self.release.rules) if self.release else set()
        return [f for f in self.findings if f.action == "quarantine" and f.rule not in released]

    @property
    def quarantined(self) -> bool:
        return bool(self.holding)

    @property
    def action(self) -> str:
        """"quarantine", "released", "warn" or "ok"."""
        if self.quarantined:
            return "quarantine"
        if any(f.action == "quarantine" for f in self.findings):
            return "released"
        return "warn" if self.findings else "ok"

    def describe(self) -> str:
        shown = self.holding or self.findings
        return "; ".join(f"{f.rule}: {f.detail}" for f in shown)


def check(db: sqlite3.Connection, settings: QualitySettings, lead: Lead) -> Verdict:
    """The verdict for one merged lead (its key must be set)."""
    found = findings(lead, settings, state.conflicts_of(db, lead.key))
    release = state.release_of(db, lead.key) if any(f.action == "quarantine" for f in found) else None
    return Verdict(found, release)


def quarantining_rules(settings: QualitySettings) -> set[str]:
    """The rules that can quarantine a lead under `settings`: action `quarantine`, and (for the rules
    that work from a list) a non-empty list. Empty: no lead can be held, none needs reading."""
    return {rule for rule, attr in RULES.items()
            if getattr(settings, attr) == "quarantine" and (rule not in _NEEDS_LIST or getattr(settings, _NEEDS_LIST[rule]))}


def held(db: sqlite3.Connection, settings: QualitySettings, lead_keys: list[str]) -> set[str]:
    """The keys among `lead_keys` whose leads are quarantined (no handoff, no write-back).

    Reads the leads, their conflicts and their releases a few thousand at a time, and nothing at
    all when no rule can quarantine (`quarantining_rules`). The same verdict as `check` per lead.
    """
    if not quarantining_rules(settings):
        return set()
    found: set[str] = set()
    for start in range(0, len(lead_keys), _HELD_CHUNK):
        chunk = lead_keys[start:start + _HELD_CHUNK]
        conflicts = state.conflicts_of_many(db, chunk)
        suspects: dict[str, list[Finding]] = {}
        for lead in state.leads_by_keys(db, chunk):
            key = lead.key or ""
            quarantine = [f for f in findings(lead, settings, conflicts.get(key)) if f.action == "quarantine"]
            if quarantine:
                suspects[key] = quarantine
        releases = state.releases_of(db, sorted(suspects)) if suspects else {}
        for key, quarantine in suspects.items():
            if Verdict(quarantine, releases.get(key)).quarantined:
                found.add(key)
    return found


def record_conflicts(db: sqlite3.Connection, lead_key: str) -> None:
    """Note (or clear) the fields on which this person's records disagree. Call at ingest, in its
    transaction; the merge itself is unchanged."""
    state.set_conflicts(db, lead_key, conflicts(state.lead_views(db, lead_key)))


def record_agreement(db: sqlite3.Connection, lead_keys: list[str]) -> None:
    """`record_conflicts` for leads known from one record each: one record cannot disagree."""
    state.clear_conflicts(db, lead_keys)


def release_lead(db: sqlite3.Connection, settings: QualitySettings, email: str, *, by: str,
                 note: str | None = None) -> tuple[Lead, Verdict]:
    """Let a quarantined lead through: recorded with who and when; the next run hands it off."""
    key = normalize_email(email) or email
    lead = state.lead_by_email(db, key)
    if lead is None:
        raise ConfigError(f"no lead with e-mail {email!r} in the state store")
    verdict = check(db, settings, lead)
    rules = [f.rule for f in verdict.findings if f.action == "quarantine"]
    if not rules:
        raise ConfigError(f"{email} is not quarantined (rules found: "
                          f"{', '.join(f.rule for f in verdict.findings) or 'none'})")
    state.release(db, lead.key, by=by, rules=rules, note=note)
    return lead, check(db, settings, lead)


def quality_report(db: sqlite3.Connection, settings: QualitySettings) -> dict[str, Any]:
    """Counts by rule and by lead source, and every lead some rule caught, with its rules."""
    by_rule: Counter[str] = Counter()
    by_source: dict[str, Counter[str]] = {}
    leads: list[dict[str, Any]] = []
    for lead in state.all_leads(db):
        verdict = check(db, settings, lead)
        if not verdict.findings:
            continue
        source = lead.lead_source or ""
        counts = by_source.setdefault(source, Counter())
        counts["leads"] += 1
        counts[verdict.action] += 1
        for finding in verdict.findings:
            by_rule[finding.rule] += 1
        entry: dict[str, Any] = {
            "email": lead.email or lead.key, "name": lead.name, "company": lead.company, "lead_source": lead.lead_source,
            "rules": [f.rule for f in verdict.findings], "details": [f.to_json() for f in verdict.findings],
            "action": verdict.action,
        }
        if verdict.release is not None:
            entry["released_by"] = verdict.release.released_by
            entry["released_at"] = verdict.release.released_at
        leads.append(entry)
    rules = [{"rule": name, "action": getattr(settings, attr), "leads": by_rule.get(name, 0)}
             for name, attr in RULES.items()]
    sources = [{"lead_source": source, "leads": c["leads"], "quarantined": c["quarantine"], "released": c["released"],
                "warned": c["warn"]} for source, c in sorted(by_source.items())]
    return {"rules": rules, "sources": sources, "leads": leads}

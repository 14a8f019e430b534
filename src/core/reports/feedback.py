"""`report feedback`: what sales rejected, why, and which lead sources and scoring rules fed it."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from datetime import datetime
from typing import Any

from leadsync.core.state import handoffs, leads
from leadsync.core.state.store import StateStore, from_epoch

__all__ = ["feedback_report"]

UNKNOWN = "(unknown)"


def _rate(part: int, whole: int) -> float:
    return round(part / whole, 4) if whole else 0.0


def feedback_report(store: StateStore, *, since: datetime | None = None, timezone: str = "UTC") -> dict[str, Any]:
    """Rejections and their reasons by lead source and by the scoring rules that made the MQL.

    Counts every handoff episode opened at or after `since`: `rejection_rate` is rejected /
    handed off; a rule's `share_of_rejections` is the part of all rejections it fired for.
    """
    from zoneinfo import ZoneInfo

    tz = ZoneInfo(timezone)
    rows = handoffs.opened_since(store.db, since.timestamp() if since else float("-inf"))
    status_counts: Counter[str] = Counter()
    sources: dict[str, Counter[str]] = defaultdict(Counter)
    source_reasons: dict[str, Counter[str]] = defaultdict(Counter)
    rules: dict[str, Counter[str]] = defaultdict(Counter)
    rule_points: dict[str, set[float]] = defaultdict(set)
    reasons: Counter[str] = Counter()
    rejections = []
    for row in rows:
        lead = leads.load(store.db, row["lead_key"])
        source = (lead.lead_source if lead else None) or UNKNOWN
        rejected = row["status"] == "rejected"
        reason = row["close_reason"] or UNKNOWN
        status_counts[row["status"]] += 1
        sources[source]["mqls"] += 1
        fired = _rules(row["reasons"])
        for rule, points in fired.items():
            rules[rule]["mqls"] += 1
            rule_points[rule].add(points)
        if not rejected:
            continue
        sources[source]["rejected"] += 1
        source_reasons[source][reason] += 1
        reasons[reason] += 1
        for rule in fired:
            rules[rule]["rejected"] += 1
        rejections.append({
            "email": lead.email if lead else None, "lead_key": row["lead_key"],
            "company": lead.company if lead else None, "lead_source": source, "owner": row["owner"],
            "score": row["score"], "reason": reason,
            "opened_at": from_epoch(row["opened_at"]).astimezone(tz).isoformat(),  # type: ignore[union-attr]
            "rejected_at": from_epoch(row["closed_at"]).astimezone(tz).isoformat() if row["closed_at"] else None,  # type: ignore[union-attr]
            "rules": sorted(fired),
        })
    total_rejected = status_counts["rejected"]
    by_source = [
        {
            "lead_source": source, "mqls": c["mqls"], "rejected": c["rejected"],
            "rejection_rate": _rate(c["rejected"], c["mqls"]),
            "reasons": [{"reason": r, "count": n} for r, n in source_reasons[source].most_common()],
        }
        for source, c in sorted(sources.items(), key=lambda item: (-item[1]["rejected"], -item[1]["mqls"], item[0]))
    ]
    by_rule = [
        {
            "rule": rule, "points": sorted(rule_points[rule]), "mqls": c["mqls"], "rejected": c["rejected"],
            "rejection_rate": _rate(c["rejected"], c["mqls"]),
            "share_of_rejections": _rate(c["rejected"], total_rejected),
        }
        for rule, c in sorted(rules.items(), key=lambda item: (-item[1]["rejected"], -item[1]["mqls"], item[0]))
    ]
    return {
        "since": since.isoformat() if since else None,
        "handoffs": len(rows),
        "by_status": dict(sorted(status_counts.items())),
        "rejected": total_rejected,
        "rejection_rate": _rate(total_rejected, len(rows)),
        "by_reason": [{"reason": r, "count": n} for r, n in reasons.most_common()],
        "by_source": by_source,
        "by_rule": by_rule,
        "rejections": rejections,
    }


def _rules(raw: str | None) -> dict[str, float]:
    """Rule name -> points from a handoff's stored reasons (older rows may hold bare names)."""
    try:
        items = json.loads(raw or "[]")
    except json.JSONDecodeError:
        return {}
    fired: dict[str, float] = {}
    for item in items:
        if isinstance(item, dict) and item.get("rule"):
            fired[str(item["rule"])] = float(item.get("points") or 0)
        elif isinstance(item, str):
            fired[item] = 0.0
    return fired

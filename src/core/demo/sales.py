"""The demo's inside-sales quarter: calls, meetings and opportunities with the articles' shapes.

About half the calls connect for a second or more, about one in five lasts two minutes or more,
each rep makes about 34 calls a business day, and the connect rate depends on the hour.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import holidays

from leadsync.core.normalize import normalize_lead_source

__all__ = ["OPPORTUNITY_COLUMNS", "SalesData", "generate_sales"]

ZONE = ZoneInfo("Asia/Tokyo")
OPPORTUNITY_COLUMNS = ["id", "email", "name", "created_at", "stage", "amount", "closed_at", "status", "lost_reason",
                       "owner"]
# Chance that a call connects (anyone answers, 1 second or more), by local hour.
CONNECT_BY_HOUR = {9: 0.42, 10: 0.55, 11: 0.58, 12: 0.3, 13: 0.45, 14: 0.5, 15: 0.52, 16: 0.6, 17: 0.62, 18: 0.38}
# Of the connected calls: reception only, a short talk, a real conversation (two minutes or more).
CONNECTED = [("受付ブロック", 15, 60, 0.3), ("通電", 20, 119, 0.3), ("有効会話", 120, 600, 0.4)]
NOT_CONNECTED = ["不在", "不在", "留守電", "話し中"]
# Chance that a real conversation books a meeting, by lead source (canonical code).
MEETING_BY_SOURCE = {"trade_show": 0.5, "seminar": 0.35, "webinar": 0.35, "web_inquiry": 0.3,
                     "content_download": 0.1, "advertising": 0.15, "referral": 0.45}
LOST_REASONS = ["価格", "競合に決定", "時期尚早", "予算不足", "社内合意が取れず"]
DEALS = ["導入プラン", "年間契約", "スタンダードプラン", "エンタープライズプラン", "PoC"]
STAGES_OPEN = ["提案", "見積提示", "交渉"]


@dataclass
class SalesData:
    """Rows for activities.csv (calls, meetings set, meetings) and opportunities.csv."""

    activities: list[dict[str, str]] = field(default_factory=list)
    opportunities: list[dict[str, str]] = field(default_factory=list)


def _iso(moment: datetime) -> str:
    return moment.astimezone(ZONE).isoformat(timespec="seconds")


def generate_sales(leads: Sequence[dict[str, str]], owners: Sequence[str], anchor: datetime, *, seed: int = 7,
                   days: int = 90, calls_per_day: int = 34) -> SalesData:
    """A quarter of inside sales over `leads` (rows with email and lead_source) by `owners`, ending at `anchor`."""
    rng = random.Random(seed * 7919 + 17)
    national = holidays.country_holidays("JP")  # the demo is a leaf: Japan's business days without the handoff calendar
    local_anchor = anchor.astimezone(ZONE)
    data = SalesData()
    booked: set[str] = set()
    weights = [3.0 if lead.get("owner") else 1.0 for lead in leads]
    events: list[tuple[datetime, dict[str, str]]] = []
    opportunities: list[tuple[datetime, dict[str, str]]] = []
    for back in range(days - 1, 0, -1):
        day = local_anchor.date() - timedelta(days=back)
        if day.weekday() >= 5 or day in national:
            continue
        for owner in owners:
            for _ in range(max(1, round(rng.gauss(calls_per_day, 4)))):
                lead = rng.choices(leads, weights=weights)[0]
                hour = rng.choice(list(CONNECT_BY_HOUR))
                when = datetime.combine(day, time(hour, rng.randrange(60), rng.randrange(60)), ZONE)
                if rng.random() < CONNECT_BY_HOUR[hour]:
                    outcome, low, high = rng.choices(CONNECTED, weights=[c[3] for c in CONNECTED])[0][:3]
                    duration = rng.randint(low, high)
                else:
                    outcome, duration = rng.choice(NOT_CONNECTED), 0
                events.append((when, {"email": lead["email"], "type": "call", "duration_seconds": str(duration),
                                      "outcome": outcome, "owner": owner}))
                email = lead["email"].lower()
                meeting_chance = MEETING_BY_SOURCE.get(normalize_lead_source(lead.get("lead_source")) or "", 0.2)
                if duration >= 120 and email not in booked and rng.random() < meeting_chance:
                    booked.add(email)
                    set_at = when + timedelta(seconds=duration)
                    events.append((set_at, {"email": lead["email"], "type": "meeting_set", "outcome": "アポ獲得",
                                            "owner": owner}))
                    meeting_at = datetime.combine(day + timedelta(days=rng.randint(2, 10)),
                                                  time(rng.choice([10, 11, 13, 14, 15, 16])), ZONE)
                    if meeting_at >= local_anchor:
                        continue
                    result = rng.choices(["実施", "不参加", "キャンセル"], weights=[8, 1, 1])[0]
                    events.append((meeting_at, {"email": lead["email"], "type": "meeting", "outcome": result,
                                                "duration_seconds": "3600" if result == "実施" else "",
                                                "owner": owner}))
                    if result == "実施" and rng.random() < 0.38:
                        opportunities.append(_opportunity(rng, lead, owner, meeting_at, local_anchor))
    events.sort(key=lambda e: e[0])
    for number, (when, row) in enumerate(events, start=1):
        data.activities.append({"id": f"S{number:06d}", "email": row["email"], "type": row["type"],
                                "occurred_at": _iso(when), "url": "", "duration_seconds": row.get("duration_seconds", ""),
                                "outcome": row.get("outcome", ""), "owner": row["owner"]})
    opportunities.sort(key=lambda o: o[0])
    for number, (_, row) in enumerate(opportunities, start=1):
        data.opportunities.append({"id": f"OPP{number:05d}", **row})
    return data


def _opportunity(rng: random.Random, lead: dict[str, str], owner: str, meeting_at: datetime,
                 anchor: datetime) -> tuple[datetime, dict[str, str]]:
    created = meeting_at + timedelta(days=rng.randint(1, 7), hours=rng.randint(0, 5))
    created = min(created, anchor - timedelta(hours=2))
    amount = rng.choice([60, 80, 120, 150, 240, 360, 480]) * 10_000
    close = created + timedelta(days=rng.randint(14, 45))
    status, stage, reason, closed = "open", rng.choice(STAGES_OPEN), "", ""
    if close < anchor:
        won = rng.random() < 0.27
        status = "受注" if won else "失注"
        stage = "受注" if won else "失注"
        reason = "" if won else rng.choice(LOST_REASONS)
        closed = _iso(close)
    company = lead.get("company") or lead["email"].split("@")[1]
    return created, {"email": lead["email"], "name": f"{company} {rng.choice(DEALS)}", "created_at": _iso(created),
                     "stage": stage, "amount": f"{amount:,}", "closed_at": closed, "status": status,
                     "lost_reason": reason, "owner": owner}

"""A deterministic, realistic demo data set: leads.csv and activities.csv for the file connector.

Each lead is given an intended segment (about 11% hot, 32% warm, the rest cold) under the default
scoring sheet, and its attributes and behaviour are drawn to land there with a margin, so the demo
shows all three segments whatever the run's exact moment.
"""

from __future__ import annotations

import csv
import itertools
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from leadsync.core.demo import words
from leadsync.core.demo.sales import OPPORTUNITY_COLUMNS, generate_sales
from leadsync.core.normalize import lead_source_label

__all__ = ["ACTIVITY_COLUMNS", "LEAD_COLUMNS", "DemoData", "generate_demo", "write_demo"]

LEAD_COLUMNS = ["id", "email", "first_name", "last_name", "company", "title", "department", "phone", "employees",
                "industry", "lead_source", "owner", "status", "created_at", "updated_at"]
ACTIVITY_COLUMNS = ["id", "email", "type", "occurred_at", "url", "duration_seconds", "outcome", "owner"]
ZONE = ZoneInfo("Asia/Tokyo")

# The default sheet's behaviour rows and their points (src/core/data/scoring-sheet.csv).
BEHAVIOUR_POINTS = {"open": 5, "click": 10, "download": 20, "pricing": 25, "form": 15, "webinar": 20, "revisit": 10}
# How likely each behaviour is, a priori; used to weight the subsets a lead may show.
_PROPENSITY = {"open": 0.9, "click": 0.5, "download": 0.35, "pricing": 0.3, "form": 0.2, "webinar": 0.25, "revisit": 0.35}
_TITLE_POINTS = {"exec": 30, "manager": 20, "staff": 10, "none": 0}
_SIZE_POINTS = {"500+": 25, "100-499": 20, "50-99": 15, "small": 0}
_INDUSTRY_POINTS = {"it": 20, "mfg": 10}
# Intended totals, with a margin of 5 inside the sheet's bands (hot >= 80, warm 50-79, cold <= 49).
_BANDS = {"hot": (85, 999), "warm": (55, 74), "cold": (0, 44)}
_SUBSETS = [
    frozenset(combo)
    for size in range(len(BEHAVIOUR_POINTS) + 1)
    for combo in itertools.combinations(sorted(BEHAVIOUR_POINTS), size)
]


@dataclass
class DemoData:
    """Rows in the file connector's leads.csv, activities.csv and opportunities.csv columns.

    `activities` are the marketing activities the scores come from; `sales` the inside-sales
    calls and meetings of the same quarter (written to activities.csv too).
    """

    leads: list[dict[str, str]] = field(default_factory=list)
    activities: list[dict[str, str]] = field(default_factory=list)
    sales: list[dict[str, str]] = field(default_factory=list)
    opportunities: list[dict[str, str]] = field(default_factory=list)


@dataclass
class _Lead:
    row: dict[str, str]
    intent: str
    behaviours: frozenset[str]
    visit_days: list[int]
    events: list[tuple[datetime, str, str, str, str]] = field(default_factory=list)  # when, type, url, dur, outcome


class _Generator:
    def __init__(self, anchor: datetime, seed: int, days: int) -> None:
        self.rng = random.Random(seed)
        self.anchor = anchor if anchor.tzinfo else anchor.replace(tzinfo=timezone.utc)
        self.local_anchor = self.anchor.astimezone(ZONE)
        self.days = days
        self.emails: set[str] = set()
        self.few_calls = False

    # --- time ---------------------------------------------------------------------------------
    def moment(self, day: int, start: int = 9, end: int = 19) -> datetime:
        """A time on the local date `day` days before the anchor (day >= 1, so always before it)."""
        date = self.local_anchor.date() - timedelta(days=day)
        minutes = self.rng.randrange(start * 60, end * 60)
        return datetime.combine(date, time(minutes // 60, minutes % 60), ZONE)

    def recent_day(self, intent: str) -> int:
        """A day for a point-bearing event: recent for hot leads, within the last half for warm."""
        horizon = {"hot": 30, "warm": 45}.get(intent, self.days - 1)
        return self.rng.randint(1, max(1, min(horizon, self.days - 1)))

    # --- leads --------------------------------------------------------------------------------
    def company(self) -> tuple[str, str, str, bool]:
        """(company, e-mail domain, industry class, japanese?)"""
        rng = self.rng
        if rng.random() < 0.78:
            stem, stem_romaji = rng.choice(words.JA_COMPANY_STEMS)
            kind, kind_romaji, industry = rng.choice(words.JA_COMPANY_KINDS)
            name = rng.choice([f"株式会社{stem}{kind}", f"株式会社{stem}{kind}", f"{stem}{kind}株式会社",
                               f"(株){stem}{kind}", f"㈱{stem}{kind}"])
            return name, f"{stem_romaji}-{kind_romaji}.example.jp", industry, True
        stem = rng.choice(words.EN_COMPANY_STEMS)
        kind, industry = rng.choice(words.EN_COMPANY_KINDS)
        return f"{stem} {kind} {rng.choice(words.EN_COMPANY_SUFFIXES)}", f"{stem}{kind}.example.com".lower(), industry, False

    def attributes(self, intent: str) -> tuple[str, str, str, int]:
        """(title class, size band, industry class, attribute points) drawn for an intended segment."""
        rng = self.rng
        weights = {
            "hot": ([4, 4, 1, 1], [4, 3, 2, 1]),
            "warm": ([2, 3, 3, 2], [3, 3, 2, 2]),
            "cold": ([1, 2, 4, 4], [1, 2, 2, 5]),
        }[intent]
        title = rng.choices(list(_TITLE_POINTS), weights=weights[0])[0]
        size = rng.choices(list(_SIZE_POINTS), weights=weights[1])[0]
        return title, size, "", _TITLE_POINTS[title] + _SIZE_POINTS[size]

    def behaviours(self, intent: str, attribute_points: int) -> frozenset[str] | None:
        low, high = _BANDS[intent]
        low = max(low - attribute_points, 40 if intent == "hot" else 0)
        high = high - attribute_points
        feasible = [s for s in _SUBSETS if low <= sum(BEHAVIOUR_POINTS[b] for b in s) <= high]
        if not feasible:
            return None
        weights = []
        for subset in feasible:
            weight = 1.0
            for name, p in _PROPENSITY.items():
                weight *= p if name in subset else 1 - p
            weights.append(weight)
        return self.rng.choices(feasible, weights=weights)[0]

    def lead(self, number: int, intent: str) -> _Lead:
        rng = self.rng
        while True:
            company, domain, industry_class, japanese = self.company()
            title_class, size, _, points = self.attributes(intent)
            points += _INDUSTRY_POINTS.get(industry_class, 0)
            chosen = self.behaviours(intent, points)
            if chosen is not None:
                break
        japanese_person = japanese and rng.random() < 0.9
        if japanese_person:
            (last, last_romaji), (first, first_romaji) = rng.choice(words.JA_LAST_NAMES), rng.choice(words.JA_FIRST_NAMES)
            local = rng.choice([f"{first_romaji}.{last_romaji}", f"{last_romaji}.{first_romaji}", f"{first_romaji[0]}-{last_romaji}"])
        else:
            first, last = rng.choice(words.EN_FIRST_NAMES), rng.choice(words.EN_LAST_NAMES)
            local = f"{first}.{last}".lower()
        email = f"{local}@{domain}"
        suffix = 2
        while email in self.emails:
            email = f"{local}{suffix}@{domain}"
            suffix += 1
        self.emails.add(email)
        if rng.random() < 0.06:  # as typed into a form: the engine lower-cases it
            email = email[0].upper() + email[1:]
        created = self.anchor - timedelta(days=rng.randint(20, 240), minutes=rng.randrange(0, 600))
        updated = min(created + timedelta(days=rng.randint(0, 60)), self.anchor - timedelta(hours=1))
        owner = rng.choice(words.OWNERS) if rng.random() < (0.55 if intent == "hot" else 0.4) else ""
        status = rng.choice(words.STATUSES)
        if rng.random() < (0.1 if intent == "hot" else 0.03):
            status = words.REJECTED_STATUS
        industry = rng.choice(words.INDUSTRIES[industry_class])
        title, department = self.title(title_class, japanese_person)
        row = {
            "id": f"L{number:05d}",
            "email": email,
            "first_name": first,
            "last_name": last,
            "company": company,
            "title": title,
            "department": department,
            "phone": self.phone(country_of(company, japanese)),
            "employees": rng.choice(words.EMPLOYEES[size]),
            "industry": industry,
            "lead_source": self.lead_source(japanese),
            "owner": owner,
            "status": status,
            "created_at": created.astimezone(ZONE).isoformat(timespec="seconds"),
            "updated_at": updated.astimezone(ZONE).isoformat(timespec="seconds"),
        }
        return _Lead(row, intent, chosen, self.visit_days(intent, "revisit" in chosen))

    def title(self, title_class: str, japanese_person: bool) -> tuple[str, str]:
        """(title, department) of a title class: Japanese for a Japanese person, English otherwise,
        and a department that goes with the title (no 代表取締役社長 in 総務部)."""
        table = words.TITLES_JA if japanese_person else words.TITLES_EN
        title, departments = self.rng.choice(table[title_class])
        return title, self.rng.choice(departments)

    def lead_source(self, japanese: bool) -> str:
        """A source of the lead-source vocabulary, as the company's export labels it."""
        code = self.rng.choices(list(words.LEAD_SOURCES), weights=list(words.LEAD_SOURCES.values()))[0]
        return lead_source_label(code, "ja" if japanese else "en") or code

    def phone(self, country: str) -> str:
        """A fictional number in the format of the company's country: Japan (03-1234-5678, some in
        full-width digits), the US (+1 (415) 555-01xx, reserved for fiction) or the UK (+44 20 7946 0xxx,
        Ofcom's drama range)."""
        rng = self.rng
        if country == "US":
            return f"+1 ({rng.choice(['212', '415', '617', '312'])}) 555-{rng.randrange(100, 200):04d}"
        if country == "GB":
            return f"+44 20 7946 {rng.randrange(0, 1000):04d}"
        area = rng.choice(["03", "06", "052", "090", "080"])
        digits = 3 if area == "052" else 4  # 052-123-4567, 03-1234-5678, 090-1234-5678
        number = f"{area}-{rng.randrange(10 ** (digits - 1), 10 ** digits)}-{rng.randrange(1000, 10000)}"
        # Some exports carry full-width digits.
        return number.translate(str.maketrans("0123456789-", "０１２３４５６７８９－")) if rng.random() < 0.05 else number

    def visit_days(self, intent: str, revisit: bool) -> list[int]:
        """Days a lead visits the site. Without the revisit behaviour, visits are 10+ days apart,
        so no 7-day period holds two visit days."""
        rng = self.rng
        if revisit:
            first = self.recent_day(intent)
            second = min(first + rng.randint(1, 4), self.days - 1) if first + 1 < self.days else first - 1
            others = rng.sample(range(1, self.days), k=min(3, self.days - 1))
            return sorted({first, second, *others})
        horizon = {"hot": 30, "warm": 45}.get(intent, self.days - 1)
        day, spaced = rng.randint(1, min(9, horizon)), []
        while day < self.days:
            spaced.append(day)
            day += rng.randint(10, 20)
        # The first spaced day is recent enough for a point-bearing visit.
        return spaced if spaced[0] <= horizon else [1]

    # --- activities -----------------------------------------------------------------------------
    def add(self, lead: _Lead, when: datetime, kind: str, url: str = "", duration: str = "", outcome: str = "") -> None:
        lead.events.append((when, kind, url, duration, outcome))

    def behave(self, lead: _Lead) -> None:
        rng, intent, chosen = self.rng, lead.intent, lead.behaviours
        if "open" in chosen:
            for _ in range(rng.randint(1, 5)):
                self.add(lead, self.moment(rng.randint(1, self.days - 1), 7, 23), "email_open")
            self.add(lead, self.moment(self.recent_day(intent), 7, 23), "email_open")
        if "click" in chosen:
            self.add(lead, self.moment(self.recent_day(intent)), "email_click", rng.choice(words.CLICK_PAGES))
        if "download" in chosen:
            self.add(lead, self.moment(self.recent_day(intent)), "content_download", rng.choice(words.DOWNLOADS))
        if "pricing" in chosen:
            day = lead.visit_days[0] if len(lead.visit_days) else 1
            for _ in range(rng.randint(1, 2)):
                self.add(lead, self.moment(day), "web_visit", rng.choice(words.PRICING_PAGES))
        if "form" in chosen:
            when = self.moment(self.recent_day(intent))
            url = rng.choice(words.FORMS)
            self.add(lead, when, "form_started", url)
            if rng.random() < 0.5:
                self.add(lead, when + timedelta(minutes=rng.randint(1, 9)), "form_submitted", url)
        if "webinar" in chosen or rng.random() < 0.15:
            day = self.recent_day(intent)
            url = rng.choice(words.WEBINARS)
            self.add(lead, self.moment(min(day + rng.randint(2, 10), self.days - 1)), "webinar_registered", url)
            if "webinar" in chosen:
                self.add(lead, self.moment(day, 14, 17), "webinar_attended", url)
        for day in lead.visit_days:  # every lead visits the site on its visit days
            self.add(lead, self.moment(day), "web_visit", rng.choice(words.PAGES))
        if self.few_calls and lead.row["owner"]:  # without the sales quarter: a few calls among the activities
            for _ in range(rng.randint(0, 4)):
                outcome, low, high = rng.choice(words.CALL_OUTCOMES)
                self.add(lead, self.moment(rng.randint(1, self.days - 1)), "call", "", str(rng.randint(low, high)), outcome)
            if intent == "hot" and rng.random() < 0.3:
                self.add(lead, self.moment(rng.randint(1, 10)), "meeting", "", "", "日程確定")

    def top_up(self, leads: Sequence[_Lead], wanted: int) -> None:
        """More activities that earn no new points: repeats of what a lead already did."""
        rng = self.rng
        total = sum(len(lead.events) for lead in leads)
        while total < wanted:
            lead = rng.choice(leads)
            options = ["visit"] + [b for b in ("open", "open", "click", "download") if b in lead.behaviours]
            choice = rng.choice(options)
            if choice == "visit":
                self.add(lead, self.moment(rng.choice(lead.visit_days)), "web_visit", rng.choice(words.PAGES))
            elif choice == "open":
                self.add(lead, self.moment(rng.randint(1, self.days - 1), 7, 23), "email_open")
            elif choice == "click":
                self.add(lead, self.moment(rng.randint(1, self.days - 1)), "email_click", rng.choice(words.CLICK_PAGES))
            else:
                self.add(lead, self.moment(rng.randint(1, self.days - 1)), "content_download", rng.choice(words.DOWNLOADS))
            total += 1


def country_of(company: str, japanese: bool) -> str:
    """Where a demo company answers its phone: Japan for Japanese companies and for the Japanese
    subsidiaries of Western ones (K.K., Co., Ltd.), the UK for a Ltd., else the US."""
    if japanese or company.endswith(("K.K.", "Co., Ltd.")):
        return "JP"
    return "GB" if company.endswith("Ltd.") else "US"


def generate_demo(anchor: datetime, *, seed: int = 7, leads: int = 300, activities: int = 5000, days: int = 90,
                  sales: bool = True) -> DemoData:
    """Leads and activities over `days` days ending at `anchor`; the same seed and anchor give the same data.

    `activities` is reached exactly unless the leads' own behaviour already needs more. With `sales`,
    a quarter of inside-sales calls, meetings and opportunities comes on top (`sales`,
    `opportunities`); without, `activities` holds a few calls and meetings of the owned leads, as
    the vendor fakes' worlds use them.
    """
    if leads < 1 or days < 2:
        raise ValueError("the demo needs at least one lead and two days")
    gen = _Generator(anchor, seed, days)
    gen.few_calls = not sales
    intents = ["hot"] * round(leads * 0.11) + ["warm"] * round(leads * 0.32)
    intents += ["cold"] * (leads - len(intents))
    gen.rng.shuffle(intents)
    people = [gen.lead(number, intent) for number, intent in enumerate(intents, start=1)]
    for person in people:
        gen.behave(person)
    gen.top_up(people, activities)
    events = sorted(
        (when, person.row["email"], kind, url, duration, outcome)
        for person in people
        for when, kind, url, duration, outcome in person.events
    )
    rows = [
        {"id": f"A{number:06d}", "email": email, "type": kind, "occurred_at": when.isoformat(timespec="seconds"),
         "url": url, "duration_seconds": duration, "outcome": outcome, "owner": ""}
        for number, (when, email, kind, url, duration, outcome) in enumerate(events, start=1)
    ]
    lead_rows = [person.row for person in people]
    quarter = generate_sales(lead_rows, words.OWNERS, gen.anchor, seed=seed, days=days) if sales else None
    return DemoData(leads=lead_rows, activities=rows, sales=quarter.activities if quarter else [],
                    opportunities=quarter.opportunities if quarter else [])


def write_demo(folder: Path, anchor: datetime, **options: Any) -> DemoData:
    """Write leads.csv, activities.csv and opportunities.csv (UTF-8 with BOM, so Excel shows the Japanese)."""
    data = generate_demo(anchor, **options)
    folder.mkdir(parents=True, exist_ok=True)
    files = [("leads.csv", LEAD_COLUMNS, data.leads), ("activities.csv", ACTIVITY_COLUMNS, data.activities + data.sales)]
    if data.opportunities:
        files.append(("opportunities.csv", OPPORTUNITY_COLUMNS, data.opportunities))
    for name, columns, rows in files:
        with open(folder / name, "w", encoding="utf-8-sig", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=columns, lineterminator="\r\n")
            writer.writeheader()
            writer.writerows(rows)
    return data

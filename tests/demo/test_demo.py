"""The bundled demo data: shape, determinism, and a segment mix that makes the demo worth running."""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from datetime import datetime, timedelta, timezone
from fnmatch import fnmatch
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from leadsync.connectors.base import ReadContext, Rejected
from leadsync.connectors.builtin.file import FileConnector, FileSettings
from leadsync.core.demo import generate_demo, write_demo
from leadsync.core.demo.generator import ACTIVITY_COLUMNS, LEAD_COLUMNS
from leadsync.core.models import Activity, Lead, Opportunity
from leadsync.core.normalize import normalize_email, parse_datetime, parse_employees

ANCHOR = datetime(2025, 6, 2, 1, 30, tzinfo=timezone.utc)
PRICING = ["*/pricing*", "*/price*", "*/plans*", "*/plan/*", "*料金*"]
ZONE = ZoneInfo("Asia/Tokyo")


def _fold(text: str) -> str:
    return unicodedata.normalize("NFKC", text or "").casefold()


def _has(text: str, words: list[str]) -> bool:
    folded = _fold(text)
    for word in words:
        word = word.casefold()
        pattern = rf"(?<![a-z]){re.escape(word)}(?![a-z])" if word.isascii() else re.escape(word)
        if re.search(pattern, folded):
            return True
    return False


def quick_score(lead: dict[str, str], activities: list[dict[str, str]], now: datetime) -> int:
    """The default sheet, written independently of leadsync.core.scoring (each row once in 90 days)."""
    recent = [a for a in activities if now - timedelta(days=90) < parse_datetime(a["occurred_at"]) <= now]
    kinds = {a["type"] for a in recent}
    visits = [a for a in recent if a["type"] == "web_visit"]
    days = sorted({parse_datetime(a["occurred_at"]).astimezone(ZONE).date() for a in visits})
    behaviour = 5 * ("email_open" in kinds) + 10 * ("email_click" in kinds) + 20 * ("content_download" in kinds)
    behaviour += 25 * any(any(fnmatch(a["url"], p) for p in PRICING) for a in visits)
    behaviour += 15 * ("form_started" in kinds) + 20 * ("webinar_attended" in kinds)
    behaviour += 10 * any((b - a).days < 7 for a, b in zip(days, days[1:]))
    title = lead["title"]
    attribute = (
        30 if _has(title, ["CEO", "CTO", "取締役", "執行役員", "社長"])
        else 20 if _has(title, ["部長", "マネージャー", "Manager"])
        else 10 if _has(title, ["担当", "スタッフ", "Staff"])
        else 0
    )
    employees = parse_employees(lead["employees"]) or 0
    attribute += 25 if employees >= 500 else 20 if employees >= 100 else 15 if employees >= 50 else 0
    industry = lead["industry"]
    attribute += 20 if _has(industry, ["IT", "ソフトウェア", "Software", "SaaS", "情報通信"]) else 10 if _has(industry, ["製造", "Manufacturing"]) else 0
    return behaviour + attribute


def _segments(data, now: datetime) -> Counter:
    by_email: dict[str, list[dict[str, str]]] = {}
    for activity in data.activities:
        by_email.setdefault(normalize_email(activity["email"]), []).append(activity)
    counts: Counter = Counter()
    for lead in data.leads:
        total = quick_score(lead, by_email.get(normalize_email(lead["email"]), []), now)
        counts["hot" if total >= 80 else "warm" if total >= 50 else "cold"] += 1
    return counts


@pytest.fixture(scope="module")
def demo():
    return generate_demo(ANCHOR)


def test_size_columns_and_time_span(demo):
    assert len(demo.leads) >= 300 and len(demo.activities) >= 5000
    assert all(list(row) == LEAD_COLUMNS for row in demo.leads)
    assert all(list(row) == ACTIVITY_COLUMNS for row in demo.activities)
    times = [parse_datetime(a["occurred_at"]) for a in demo.activities]
    assert all(ANCHOR - timedelta(days=90) < t < ANCHOR for t in times)
    assert max(times) - min(times) > timedelta(days=80)


def test_identities_are_unique_and_every_activity_has_a_lead(demo):
    emails = [normalize_email(row["email"]) for row in demo.leads]
    assert None not in emails and len(set(emails)) == len(emails)
    assert {normalize_email(a["email"]) for a in demo.activities} <= set(emails)
    assert len({a["id"] for a in demo.activities}) == len(demo.activities)


def test_realistic_variety(demo):
    companies = " ".join(row["company"] for row in demo.leads)
    assert "株式会社" in companies and "Inc." in companies
    assert any(re.search(r"[人名]以上|～", row["employees"]) for row in demo.leads)
    assert any(row["owner"] == "" for row in demo.leads) and any(row["owner"] for row in demo.leads)
    assert any(row["status"] == "不適格" for row in demo.leads)
    assert len({row["lead_source"] for row in demo.leads}) >= 5
    types = Counter(a["type"] for a in demo.activities + demo.sales)
    for kind in ("email_open", "email_click", "content_download", "web_visit", "form_started", "webinar_registered",
                 "webinar_attended", "call"):
        assert types[kind] > 0, kind
    assert any("/pricing" in a["url"] for a in demo.activities)


def test_all_three_segments_with_enough_hot_leads(demo):
    counts = _segments(demo, ANCHOR)
    share = {segment: counts[segment] / len(demo.leads) for segment in ("hot", "warm", "cold")}
    assert 0.08 <= share["hot"] <= 0.15, share
    assert share["warm"] >= 0.2 and share["cold"] >= 0.3, share
    # A day later nothing important has aged out: the demo still shows hot leads.
    assert _segments(demo, ANCHOR + timedelta(days=1))["hot"] >= 0.08 * len(demo.leads)


def test_segments_hold_for_other_seeds_and_sizes():
    for seed in (1, 2, 3):
        data = generate_demo(ANCHOR, seed=seed, leads=400, activities=6000)
        counts = _segments(data, ANCHOR)
        assert len(data.activities) == 6000 and len(data.leads) == 400
        assert 0.08 * 400 <= counts["hot"] <= 0.15 * 400 and counts["warm"] and counts["cold"], counts


def test_deterministic_for_seed_and_anchor(demo):
    assert generate_demo(ANCHOR) == demo
    assert generate_demo(ANCHOR, seed=8).leads != demo.leads
    shifted = generate_demo(ANCHOR + timedelta(days=1))
    assert shifted.leads[0]["email"] == demo.leads[0]["email"]
    assert shifted.activities[0]["occurred_at"] != demo.activities[0]["occurred_at"]


def test_written_files_read_cleanly_through_the_file_connector(tmp_path: Path):
    data = write_demo(tmp_path / "data", ANCHOR, leads=120, activities=1500)
    assert (tmp_path / "data" / "leads.csv").read_bytes().startswith(b"\xef\xbb\xbf")
    settings = FileSettings(plugin="file", path=tmp_path / "data", output=tmp_path / "out", roles=["leads", "activities"])
    connector = FileConnector("demo", settings, timezone="Asia/Tokyo")
    records = []
    for stream in connector.streams():
        for page in stream.read(ReadContext(None, datetime.now(timezone.utc))):
            records.extend(page.records)
    assert not [r for r in records if isinstance(r, Rejected)]
    assert sum(isinstance(r, Lead) for r in records) == 120
    assert len(data.activities) == 1500 and data.sales and data.opportunities
    assert sum(isinstance(r, Activity) for r in records) == len(data.activities) + len(data.sales)
    assert sum(isinstance(r, Opportunity) for r in records) == len(data.opportunities)


def test_real_scoring_engine_agrees(demo, tmp_path: Path):
    scoring = pytest.importorskip("leadsync.core.scoring.engine")
    sheet_module = pytest.importorskip("leadsync.core.scoring.sheet")
    from leadsync.core.config import ScoringSettings

    settings = ScoringSettings()
    sheet = sheet_module.load_sheet(Path(__file__).parents[2] / "src/core/data/scoring-sheet.csv", settings)
    connector_dir = tmp_path / "data"
    write_demo(connector_dir, ANCHOR)
    connector = FileConnector("demo", FileSettings(plugin="file", path=connector_dir), timezone="Asia/Tokyo")
    leads: list[Lead] = []
    activities: dict[str, list[Activity]] = {}
    for stream in connector.streams():
        for page in stream.read(ReadContext(None, ANCHOR)):
            for record in page.records:
                if isinstance(record, Lead):
                    leads.append(record)
                elif isinstance(record, Activity):
                    activities.setdefault(record.lead_key, []).append(record)
    segments = Counter(scoring.score_lead(sheet, lead, activities.get(lead.key, []), ANCHOR, settings).segment.value for lead in leads)
    assert 0.08 * len(leads) <= segments["hot"] <= 0.15 * len(leads), segments
    assert segments["warm"] >= 0.2 * len(leads) and segments["cold"] >= 0.3 * len(leads), segments


def test_the_sales_quarter_has_the_articles_shapes(demo):
    from leadsync.core.handoff.calendar import BusinessCalendar

    calls = [a for a in demo.sales if a["type"] == "call"]
    connected = sum(int(a["duration_seconds"]) >= 1 for a in calls) / len(calls)
    talks = sum(int(a["duration_seconds"]) >= 120 for a in calls) / len(calls)
    assert 0.42 <= connected <= 0.58 and 0.15 <= talks <= 0.25  # about half, about one in five
    calendar = BusinessCalendar("Asia/Tokyo")
    days = {a["occurred_at"][:10] for a in calls}
    assert all(calendar.is_business_day(datetime.fromisoformat(d).date()) for d in days)
    per_rep_day = len(calls) / len({a["owner"] for a in calls}) / len(days)
    assert 30 <= per_rep_day <= 38  # about 34 calls a rep a day
    by_hour: dict[str, list[int]] = {}
    for a in calls:
        by_hour.setdefault(a["occurred_at"][11:13], []).append(int(a["duration_seconds"]) >= 1)
    rates = {hour: sum(v) / len(v) for hour, v in by_hour.items()}
    assert rates["17"] - rates["12"] > 0.15  # connect rates differ by hour
    kinds = Counter(a["type"] for a in demo.sales)
    assert kinds["meeting_set"] > 50 and kinds["meeting"] > 50
    statuses = Counter(o["status"] for o in demo.opportunities)
    assert statuses["受注"] and statuses["失注"] and statuses["open"]
    assert {a["email"] for a in demo.sales} <= {lead["email"] for lead in demo.leads}
def _japanese(text: str) -> bool:
    return bool(re.search(r"[\u3040-\u30ff\u3400-\u9fff]", text))


def test_titles_phones_and_departments_fit_the_person_and_the_company(demo):
    """Issue 14: 16. Western people have English titles, Western companies foreign phone formats
    of their country, Japanese people Japanese titles; no president in general affairs."""
    western = [row for row in demo.leads if not _japanese(row["last_name"])]
    japanese = [row for row in demo.leads if _japanese(row["last_name"])]
    assert len(western) >= 30 and len(japanese) >= 200
    assert all(not _japanese(row["title"]) and not _japanese(row["department"]) for row in western)
    assert any(_japanese(row["title"]) for row in japanese)
    assert all(row["title"] in ("", "CTO") or _japanese(row["title"]) for row in japanese)
    for row in demo.leads:
        company, phone = row["company"], row["phone"]
        if _japanese(company) or company.endswith(("K.K.", "Co., Ltd.")):
            assert re.fullmatch(r"0\d{1,2}-\d{3,4}-\d{4}", unicodedata.normalize("NFKC", phone)), row
        elif company.endswith("Ltd."):
            assert re.fullmatch(r"\+44 20 7946 \d{4}", phone), row
        else:
            assert re.fullmatch(r"\+1 \(\d{3}\) 555-01\d{2}", phone), row
    presidents = [row for row in demo.leads if row["title"] in ("代表取締役", "代表取締役社長", "CEO", "CEO & Co-Founder")]
    assert presidents and all(row["department"] == "" for row in presidents)
    assert not [row for row in demo.leads if row["department"] == "総務部" and "社長" in row["title"]]


def test_lead_sources_come_from_one_vocabulary(demo):
    """Every source the demo writes is a label of the canonical vocabulary (Japanese companies'
    exports in Japanese, the others in English), so `report feedback` shows one line per source."""
    from leadsync.core.models import Lead
    from leadsync.core.normalize import LEAD_SOURCES

    canonical = {row["lead_source"]: Lead(key="k", lead_source=row["lead_source"]).lead_source for row in demo.leads}
    assert set(canonical.values()) <= set(LEAD_SOURCES) and len(set(canonical.values())) >= 6
    for row in demo.leads:
        (ja, en), _aliases = LEAD_SOURCES[canonical[row["lead_source"]]]
        assert row["lead_source"] == (ja if _japanese(row["company"]) else en), row

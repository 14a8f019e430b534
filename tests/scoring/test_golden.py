"""Hand-computed leads (Japanese and English data) scored with the default sheet."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from leadsync.core.config import ScoringSettings
from leadsync.core.models import Activity, Lead, Segment
from leadsync.core.scoring import load_score, load_sheet, rescore, score_lead

JST = ZoneInfo("Asia/Tokyo")
NOW = datetime(2025, 6, 1, 12, 0, tzinfo=JST)
PRICING = "https://www.example.co.jp/pricing/"


def A(n: int, kind: str, days_ago: float, url: str | None = None, at: datetime | None = None) -> tuple:
    return (f"g{n}", kind, at or NOW - timedelta(days=days_ago), url)


# (id, lead fields, activities, expected total, expected segment, rules that must appear)
GOLDEN = [
    ("ja-exec-hot", dict(title="代表取締役社長", employees_text="1,000人以上", industry="情報通信業"),
     [A(1, "web_visit", 2, PRICING), A(2, "content_download", 10)],
     30 + 25 + 20 + 25 + 20, "hot", ["価格ページ閲覧", "資料ダウンロード", "役職:経営者・役員"]),
    ("en-manager-warm", dict(title="Director of Marketing", employees=250, industry="Manufacturing"),
     [A(3, "email_open", 1), A(4, "email_open", 2), A(5, "email_open", 3), A(6, "email_click", 4)],
     20 + 20 + 10 + 5 + 10, "warm", ["メール開封", "役職:部長クラス", "業種:製造業"]),
    ("ja-staff-halfwidth", dict(title="ｼｽﾃﾑ担当", industry="金融"),
     [A(7, "web_visit", 1, "https://x.jp/"), A(8, "web_visit", 4, "https://x.jp/"), A(9, "form_started", 5)],
     10 + 10 + 15, "cold", ["サイト再訪問(週2回以上)", "問い合わせフォーム入力開始"]),
    ("revisit-8-days-apart", dict(title="社長室 スタッフ", employees_text="50～99名"),
     [A(10, "web_visit", 1, "https://x.jp/"), A(11, "web_visit", 9, "https://x.jp/")],
     10 + 15, "cold", ["役職:担当者クラス"]),
    ("window-edge", dict(title="CTO", industry="SaaS", employees=30),
     [A(12, "web_visit", 91, PRICING), A(13, "email_open", 89)],
     30 + 20 + 5, "warm", ["メール開封"]),
    ("exactly-80-is-hot", dict(title="CEO", employees=500, industry="Software"),
     [A(14, "email_open", 1)], 30 + 25 + 20 + 5, "hot", []),
    ("exclusive-title", dict(title="取締役 営業部長", employees_text="100～499名", industry="ITメーカー"),
     [], 30 + 20 + 20, "warm", ["役職:経営者・役員", "業種:IT・ソフトウェア"]),
    ("webinar-and-submit", dict(title="Marketing Specialist", employees_text="約120名", industry="Internet"),
     [A(15, "webinar_attended", 20), A(16, "form_submitted", 3), A(17, "webinar_registered", 30)],
     20 + 15 + 10 + 20 + 20, "hot", ["ウェビナー参加"]),
    ("nothing", dict(title=None, industry=None), [A(18, "call", 1), A(19, "meeting", 2)], 0, "cold", []),
    ("tokyo-midnight-revisit", dict(title="VP Sales"),
     [A(20, "web_visit", 0, "https://x.jp/", datetime(2025, 5, 30, 23, 30, tzinfo=JST)),
      A(21, "web_visit", 0, "https://x.jp/", datetime(2025, 5, 31, 0, 30, tzinfo=JST))],
     30 + 10, "cold", ["サイト再訪問(週2回以上)"]),
    ("price-page-jp-url", dict(title="課長"), [A(22, "web_visit", 5, "https://example.jp/料金プラン")],
     20 + 25, "cold", ["価格ページ閲覧"]),
    ("future-activity-ignored", dict(title="Founder"), [A(23, "content_download", -2)], 30, "cold", []),
]


def _lead(i: int, fields: dict) -> Lead:
    email = f"golden{i}@example.co.jp"
    return Lead(key=email, email=email, **fields)


def _acts(lead: Lead, specs: list[tuple]) -> list[Activity]:
    return [Activity(source_id=s, connection="t", lead_key=lead.key, type=t, occurred_at=when, url=url)
            for s, t, when, url in specs]


@pytest.mark.parametrize("case", GOLDEN, ids=[c[0] for c in GOLDEN])
def test_golden_per_lead(sheet, settings, case) -> None:  # type: ignore[no-untyped-def]
    name, fields, specs, total, segment, rules = case
    lead = _lead(0, fields)
    result = score_lead(sheet, lead, _acts(lead, specs), NOW, settings)
    assert result.total == total, result.breakdown
    assert result.segment == Segment(segment)
    assert result.behavior + result.attribute == result.total
    fired = [h.rule for h in result.breakdown]
    for rule in rules:
        assert rule in fired
    assert sum(h.points for h in result.breakdown) == pytest.approx(result.total)


def test_golden_batch_matches(store, sheet, settings, h) -> None:  # type: ignore[no-untyped-def]
    for i, (_, fields, specs, _, _, _) in enumerate(GOLDEN):
        lead = _lead(i, fields)
        h.put_lead(store, lead)
        h.put_activities(store, _acts(lead, specs))
    rescore(store, sheet, settings, NOW)
    for i, (name, _, _, total, segment, _) in enumerate(GOLDEN):
        stored = load_score(store, f"golden{i}@example.co.jp")
        assert stored is not None and (stored.total, stored.segment.value) == (total, segment), name


def test_revisit_depends_on_time_zone(tmp_path, h) -> None:  # type: ignore[no-untyped-def]
    utc = ScoringSettings(timezone="UTC")
    sheet_utc = load_sheet(h.DEFAULT_SHEET, utc)
    lead = _lead(1, {})
    visits = _acts(lead, GOLDEN[9][2])
    assert score_lead(sheet_utc, lead, visits, NOW, utc).total == 0  # the same UTC day
    tokyo = ScoringSettings()
    assert score_lead(load_sheet(h.DEFAULT_SHEET, tokyo), lead, visits, NOW, tokyo).total == 10


def test_evidence_names_activities_and_fields(sheet, settings) -> None:  # type: ignore[no-untyped-def]
    lead = _lead(2, dict(title="代表取締役", employees_text="1,000人以上"))
    result = score_lead(sheet, lead, _acts(lead, [A(1, "email_open", 3), A(2, "email_open", 1)]), NOW, settings)
    hits = {h.rule: h for h in result.breakdown}
    assert hits["メール開封"].evidence == ["g2"]  # newest first
    assert hits["役職:経営者・役員"].evidence == ["title=代表取締役"]
    assert hits["企業規模:従業員500名以上"].evidence == ["employees=1000"]
    assert hits["役職:経営者・役員"].group == "役職"

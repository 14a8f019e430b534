"""Caps, half-life decay, negative rows, next_change_at, custom rules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from leadsync.core.config import ScoringSettings
from leadsync.core.models import Activity, Lead
from leadsync.core.scoring import load_sheet, score_lead

NOW = datetime(2025, 6, 1, 3, 0, tzinfo=UTC)
HEADER = "スコア種別,項目,条件,配点,備考,ルール,上限,半減期\n"
BANDS = "セグメント定義,ホットリード,合計80点以上,,,,,\nセグメント定義,ウォームリード,50-79点,,,,,\nセグメント定義,コールドリード,49点以下,,,,,\n"


def sheet_of(tmp_path: Path, rows: str, settings: ScoringSettings | None = None):  # type: ignore[no-untyped-def]
    path = tmp_path / "sheet.csv"
    path.write_text(HEADER + rows + BANDS, encoding="utf-8")
    return load_sheet(path, settings or ScoringSettings())


def acts(kind: str, *days_ago: float, url: str | None = None) -> list[Activity]:
    return [Activity(source_id=f"{kind}{i}", lead_key="x@y.jp", type=kind, occurred_at=NOW - timedelta(days=d), url=url)
            for i, d in enumerate(days_ago)]


LEAD = Lead(key="x@y.jp", email="x@y.jp")


def test_once_by_default_and_cap_per_occurrence(tmp_path: Path) -> None:
    sheet = sheet_of(tmp_path, "行動スコア,メール開封,,5,,,3,\n行動スコア,メールクリック,,10,,,,\n")
    result = score_lead(sheet, LEAD, acts("email_open", 1, 2, 3, 4, 5) + acts("email_click", 1, 2), NOW)
    hits = {h.rule: h for h in result.breakdown}
    assert hits["メール開封"].points == 15 and hits["メール開封"].evidence == ["email_open0", "email_open1", "email_open2"]
    assert hits["メールクリック"].points == 10
    assert result.total == 25


def test_half_life_decay_and_next_change(tmp_path: Path) -> None:
    settings = ScoringSettings(half_life_days=30)
    sheet = sheet_of(tmp_path, "行動スコア,資料ダウンロード,,20,,,,\n", settings)
    result = score_lead(sheet, LEAD, acts("content_download", 30), NOW, settings)
    assert result.breakdown[0].points == 10.0 and result.total == 10
    # 10 -> 9 happens when 20 * 0.5**(age/30) drops below 9.5: age = 30 * log2(20/9.5) days.
    import math

    expected = NOW - timedelta(days=30) + timedelta(days=30 * math.log2(20 / 9.5))
    assert result.next_change_at is not None
    assert timedelta(0) < result.next_change_at - expected <= timedelta(minutes=2)
    later = score_lead(sheet, LEAD, acts("content_download", 30), result.next_change_at, settings)
    assert later.total == 9
    just_before = score_lead(sheet, LEAD, acts("content_download", 30), expected - timedelta(minutes=1), settings)
    assert just_before.total == 10


def test_per_row_half_life_overrides_setting(tmp_path: Path) -> None:
    sheet = sheet_of(tmp_path, "行動スコア,資料ダウンロード,,20,,,,10\n", ScoringSettings(half_life_days=1000))
    assert score_lead(sheet, LEAD, acts("content_download", 10), NOW).breakdown[0].points == 10.0


def test_next_change_is_window_expiry_without_decay(tmp_path: Path) -> None:
    sheet = sheet_of(tmp_path, "行動スコア,メール開封,,5,,,,\n行動スコア,3回DL,,10,,content_download count>=3 within 30d,,\n")
    result = score_lead(sheet, LEAD, acts("email_open", 80, 10) + acts("content_download", 29, 20, 5, 1), NOW)
    assert result.total == 15
    # the open stays until the newest one leaves (90 days after 10 days ago); the 3-download rule
    # holds until the 2nd oldest download (20 days ago) leaves 30 days later.
    assert result.next_change_at == NOW - timedelta(days=20) + timedelta(days=30)


def test_revisit_pair_expiry(tmp_path: Path) -> None:
    sheet = sheet_of(tmp_path, "行動スコア,サイト再訪問(週2回以上),,10,,,,\n")
    result = score_lead(sheet, LEAD, acts("web_visit", 85, 83, 40), NOW)
    assert result.total == 10
    assert result.next_change_at == NOW - timedelta(days=85) + timedelta(days=90)


def test_negative_rows_unsubscribe_and_free_mail(tmp_path: Path) -> None:
    rows = ("行動スコア,配信停止,,-50,,unsubscribe,,\n"
            "属性スコア,フリーメール,,-20,,\"email_domain in gmail.com, yahoo.co.jp\",,\n"
            "属性スコア,競合,,-100,,company has 競合商事,,\n")
    sheet = sheet_of(tmp_path, rows)
    lead = Lead(key="a@mail.yahoo.co.jp", email="a@mail.yahoo.co.jp", company="株式会社競合商事")
    result = score_lead(sheet, lead, acts("unsubscribe", 3), NOW)
    assert result.total == -170
    assert result.segment.value == "cold"
    ok = Lead(key="a@notgmail.com", email="a@notgmail.com")
    assert score_lead(sheet, ok, [], NOW).total == 0


def test_field_comparisons_and_ranges(tmp_path: Path) -> None:
    rows = ("属性スコア,展示会,,15,,\"lead_source in 展示会, Trade Show\",,\n"
            "属性スコア,大企業,,5,,employees >= 1000,,\n"
            "属性スコア,中堅,,3,,employees 100-999,,\n"
            "属性スコア,予算あり,,7,,custom.budget > 100,,\n"
            "属性スコア,部署なし,,-1,,department is empty,,\n")
    sheet = sheet_of(tmp_path, rows)
    lead = Lead(key="k", email="k@x.jp", lead_source="ＴＲＡＤＥ ＳＨＯＷ", employees_text="1万人", custom={"budget": 500})
    assert [h.rule for h in score_lead(sheet, lead, [], NOW).breakdown] == ["展示会", "大企業", "予算あり", "部署なし"]


def test_lead_source_rules_match_every_spelling_of_the_source(tmp_path: Path) -> None:
    """A rule written with one spelling fires for leads carrying another ('展示会' and 'Trade show')."""
    sheet = sheet_of(tmp_path, "属性スコア,展示会,,15,,lead_source = 展示会,,\n"
                               "属性スコア,ウェビナー,,5,,\"lead_source in Webinar, 紹介\",,\n"
                               "属性スコア,経由,,1,,lead_source = パートナー経由,,\n")
    fired = {source: [h.rule for h in score_lead(sheet, Lead(key="k", lead_source=source), [], NOW).breakdown]
             for source in ("Trade show", "展示会", "ウェビナー", "Referral", "パートナー経由", "広告")}
    assert fired == {"Trade show": ["展示会"], "展示会": ["展示会"], "ウェビナー": ["ウェビナー"], "Referral": ["ウェビナー"],
                     "パートナー経由": ["経由"], "広告": []}


def test_custom_activity_rule_with_url_pattern(tmp_path: Path) -> None:
    sheet = sheet_of(tmp_path, "行動スコア,事例閲覧,,8,,web_visit|email_click url */case*,,\n")
    assert score_lead(sheet, LEAD, acts("email_click", 2, url="https://x.jp/CASE/12"), NOW).total == 8
    assert score_lead(sheet, LEAD, acts("web_visit", 2, url="https://x.jp/blog"), NOW).total == 0


@pytest.mark.parametrize("title,cls", [
    ("Director", "部長クラス"), ("CTO", "経営者・役員"), ("Coordinator", "担当者クラス"), ("本部長", "部長クラス"),
    ("ＣＥＯ", "経営者・役員"), ("head of sales", "部長クラス"), ("社長室長", "部長クラス"), ("Account Executive", None),
])
def test_title_classes(sheet, title: str, cls: str | None) -> None:  # type: ignore[no-untyped-def]
    result = score_lead(sheet, Lead(key="t", title=title), [], NOW)
    fired = [h.rule for h in result.breakdown]
    assert fired == ([f"役職:{cls}"] if cls else [])

"""The batch (numpy) scorer and the per-lead scorer give identical scores on the same data."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from leadsync.core.config import ScoringSettings
from leadsync.core.models import Lead
from leadsync.core.scoring import load_score, load_sheet, rescore, score_lead
from leadsync.core.scoring.loader import load_lead



TITLES = ["代表取締役社長", "CEO", "Director of Sales", "営業部長", "マネージャー", "担当", "Staff Engineer",
          "社長室 スタッフ", "VP Marketing", "", None, "Head of IT", "課長代理", "ｼｽﾃﾑ担当"]
INDUSTRIES = ["IT・ソフトウェア", "情報通信業", "Software", "製造業", "Manufacturing", "金融", None, "ITメーカー"]
EMPLOYEES = [(None, "1,000人以上"), (250, None), (None, "50～99名"), (None, None), (30, None), (None, "約120名")]
TYPES = ["email_open", "email_click", "content_download", "web_visit", "form_started", "form_submitted",
         "webinar_attended", "webinar_registered", "call", "unsubscribe"]
URLS = ["https://example.jp/pricing", "https://example.jp/blog/1", "https://example.jp/料金プラン", None,
        "https://example.jp/plans/pro", "https://example.jp/case"]
DOMAINS = ["gmail.com", "example.co.jp", "yahoo.co.jp", "corp.example.com"]

CUSTOM = """スコア種別,項目,条件,配点,備考,ルール,上限,半減期
行動スコア,メール開封,,5,,,3,30
行動スコア,メールクリック,,10,,,,14
行動スコア,資料ダウンロード,,20,,,2,
行動スコア,価格ページ閲覧,,25,,,,45
行動スコア,価格ページ3回,,15,,pricing_page count>=3 within 30d,,
行動スコア,問い合わせフォーム入力開始,,15,,,,
行動スコア,サイト再訪問(週2回以上),,10,,,,20
行動スコア,週3日訪問,,5,,revisit 3 days in 7d within 60d,,
行動スコア,配信停止,,-40,,unsubscribe,,10
属性スコア,役職:経営者・役員,,30,,,,
属性スコア,役職:部長クラス,,20,,,,
属性スコア,役職:担当者クラス,,10,,,,
属性スコア,企業規模:従業員500名以上,,25,,,,
属性スコア,企業規模:従業員100-499名,,20,,,,
属性スコア,企業規模:従業員50-99名,,15,,,,
属性スコア,業種:IT・ソフトウェア,,20,,,,
属性スコア,業種:製造業,,10,,,,
属性スコア,フリーメール,,-15,,"email_domain in gmail.com, yahoo.co.jp",,
セグメント定義,ホットリード,合計80点以上,,,,,
セグメント定義,ウォームリード,50-79点,,,,,
セグメント定義,コールドリード,49点以下,,,,,
"""


def _populate(store, h, seed: int, now: datetime, leads: int = 150) -> None:  # type: ignore[no-untyped-def]
    rng = random.Random(seed)
    counter = 0
    for i in range(leads):
        count, text = rng.choice(EMPLOYEES)
        email = f"user{i}@{rng.choice(DOMAINS)}"
        lead = Lead(key=email, email=email, title=rng.choice(TITLES), industry=rng.choice(INDUSTRIES),
                    employees=count, employees_text=text)
        h.put_lead(store, lead)
        acts = []
        for _ in range(rng.randint(0, 25)):
            counter += 1
            when = now - timedelta(days=rng.uniform(-5, 120), seconds=rng.randint(0, 86400))
            if rng.random() < 0.1:  # same instant as another activity: tie-breaking must agree
                when = now - timedelta(days=3)
            acts.append(h.act(f"a{counter}", email, rng.choice(TYPES), when, rng.choice(URLS)))
        h.put_activities(store, acts)


def _sheet(tmp_path: Path, h, custom: bool):  # type: ignore[no-untyped-def]
    """(settings, sheet): the seed sheet, or CUSTOM with a 60-day half-life."""
    settings = ScoringSettings(half_life_days=60 if custom else None)
    path = h.DEFAULT_SHEET
    if custom:
        path = tmp_path / "custom.csv"
        path.write_text(CUSTOM, encoding="utf-8")
    return settings, load_sheet(path, settings)


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("custom", [False, True])
def test_batch_equals_per_lead(store, tmp_path: Path, h, seed: int, custom: bool) -> None:  # type: ignore[no-untyped-def]
    settings, sheet = _sheet(tmp_path, h, custom)
    now = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
    _populate(store, h, seed, now)
    result = rescore(store, sheet, settings, now, full=True)
    assert result.scored == 150
    fired = 0
    for (key,) in store.db.execute("SELECT key FROM leads").fetchall():
        lead, activities = load_lead(store, key)
        expected = score_lead(sheet, lead, activities, now, settings)
        stored = load_score(store, key)
        assert stored is not None
        assert (stored.total, stored.behavior, stored.attribute, stored.segment) == (
            expected.total, expected.behavior, expected.attribute, expected.segment), key
        assert [h.model_dump() for h in stored.breakdown] == [h.model_dump() for h in expected.breakdown], key
        if expected.next_change_at is None:
            assert stored.next_change_at is None, key
        else:
            assert stored.next_change_at is not None, key
            assert abs((stored.next_change_at - expected.next_change_at).total_seconds()) <= 60, key
        fired += len(expected.breakdown)
    assert fired > 300  # the data really exercises the rules


@pytest.mark.parametrize("custom", [False, True])
def test_packed_scan_gives_the_same_scores_as_the_row_scan(tmp_path: Path, h, monkeypatch, custom: bool) -> None:  # type: ignore[no-untyped-def]
    """A full rescore reads activities packed per range of row ids; the scores are bit for bit those
    of the row-by-row scan, across range boundaries and when a range falls back to rows (a source id
    holding the separator, a time before 2004 that 2**22 cannot scale exactly)."""
    from leadsync.core.scoring import loader
    from leadsync.core.state.store import StateStore

    settings, sheet = _sheet(tmp_path, h, custom)
    now = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
    monkeypatch.setattr(loader, "CHUNK", 37)
    packed_ranges = []
    original = loader._scan_rows
    results = []
    for mode in ("packed", "rows"):
        disk = StateStore(tmp_path / f"state-{mode}.db")
        _populate(disk, h, 5, now, leads=60)
        first, second = [r[0] for r in disk.db.execute("SELECT key FROM leads ORDER BY rowid LIMIT 2")]
        odd = [h.act("odd\x1eid", first, "web_visit", now - timedelta(minutes=1), "https://example.jp/pricing"),
               h.act("old", second, "email_open", datetime(2001, 1, 1, 0, 0, 0, 123457, tzinfo=UTC))]
        h.put_activities(disk, odd)
        if mode == "rows":
            monkeypatch.setattr(loader, "_scan_packed", lambda db, since, urls, ids, low, high:
                                original(db, since, urls, ids, rowid_range=(low, high)))
        else:
            monkeypatch.setattr(loader, "_scan_rows", lambda *a, **k: packed_ranges.append(k) or original(*a, **k))
        # The 2001 activity is inside this sheet's window only when the window reaches it.
        rescore(disk, sheet, settings, now, full=True)
        results.append(disk.db.execute(
            "SELECT lead_key, total, segment, breakdown, next_change_at FROM scores ORDER BY lead_key").fetchall())
        disk.close()
    assert results[0] == results[1] and len(results[0]) == 60
    assert len(packed_ranges) == 1  # only the range holding the odd source id was read row by row
    assert "odd\\u001eid" in "".join(r[3] for r in results[0])  # the JSON escape of U+001E


def test_packed_scan_falls_back_for_times_before_2004(store, h) -> None:  # type: ignore[no-untyped-def]
    """A time that is not a multiple of 2**-22 s is never rounded: its range is read row by row."""
    from leadsync.core.scoring import loader
    from leadsync.core.scoring.batch import UrlClassifier

    settings = ScoringSettings()
    sheet = load_sheet(h.DEFAULT_SHEET, settings)
    when = datetime(2001, 1, 1, 0, 0, 0, 123457, tzinfo=UTC)
    h.put_lead(store, Lead(key="a@x.jp", email="a@x.jp"))
    h.put_activities(store, [h.act("old", "a@x.jp", "email_open", when)])
    ids = loader.SourceIds()
    parts = loader._scan_packed(store.db, 0.0, UrlClassifier(sheet), ids, 1, 1)
    assert parts[0][0].tolist() == [1]  # the lead's rowid
    assert parts[0][2].tolist() == [when.timestamp()] and ids.get(0) == "old"


@pytest.mark.parametrize("custom", [False, True])
def test_packed_scan_of_some_leads_gives_a_full_rescores_scores(tmp_path: Path, h, monkeypatch, custom: bool) -> None:  # type: ignore[no-untyped-def]
    """A rescore of some leads reads their activities packed from the index on an activity's lead,
    in the index's order, chunk by chunk of leads: ties of time are broken by row id as a full
    rescore (row-id order) breaks them, and a chunk that cannot be split back is read row by row."""
    from leadsync.core.scoring import loader
    from leadsync.core.state import leads
    from leadsync.core.state.store import StateStore

    settings, sheet = _sheet(tmp_path, h, custom)
    now = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
    monkeypatch.setattr(loader, "KEYS_CHUNK", 7)
    store = StateStore(tmp_path / "state.db")
    _populate(store, h, 4, now, leads=60)
    first, second = [r[0] for r in store.db.execute("SELECT key FROM leads ORDER BY rowid LIMIT 2")]
    tied = now - timedelta(hours=1)
    h.put_activities(store, [  # the index orders these by source id; row ids the other way round
        h.act("zz-first", first, "web_visit", tied, "https://example.jp/pricing"),
        h.act("mm-second", first, "web_visit", tied, "https://example.jp/pricing"),
        h.act("aa-third", first, "email_open", tied),
        h.act("odd\x1eid", second, "web_visit", tied, "https://example.jp/pricing")])
    columns = "lead_key, total, behavior, attribute, segment, breakdown, next_change_at"
    rescore(store, sheet, settings, now, full=True)
    full = store.db.execute(f"SELECT {columns} FROM scores ORDER BY lead_key").fetchall()
    with store.transaction() as db:
        db.execute("DELETE FROM scores")
        leads.mark_all_dirty(db)
    by_rows = []
    original = loader._scan_rows
    monkeypatch.setattr(loader, "_scan_rows", lambda *a, **k: by_rows.append(k) or original(*a, **k))
    assert rescore(store, sheet, settings, now).scored == 60
    assert store.db.execute(f"SELECT {columns} FROM scores ORDER BY lead_key").fetchall() == full
    assert len(by_rows) == 1 and second in by_rows[0]["keys"]  # only the chunk holding the odd source id
    breakdown = json.loads(store.db.execute("SELECT breakdown FROM scores WHERE lead_key = ?", (first,)).fetchone()[0])
    # of the two tied visits, the one stored last counts as the newest (the index would say zz-first)
    assert [hit["evidence"] for hit in breakdown if hit["rule"] == "価格ページ閲覧"] == [["mm-second"]]
    store.close()


def test_a_packed_read_longer_than_sqlite_allows_is_read_row_by_row(tmp_path: Path, h, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """A packed read's text is bounded by rows (a range of row ids) or by leads (a chunk of keys),
    never by bytes: one longer than SQLite's string limit (1e9 bytes by default; lowered here) is
    read row by row, so full and keyed rescores still give the scores an unlimited read gives."""
    import sqlite3

    from leadsync.core.scoring import loader
    from leadsync.core.state import leads
    from leadsync.core.state.store import StateStore

    settings = ScoringSettings()
    sheet = load_sheet(h.DEFAULT_SHEET, settings)
    now = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
    store = StateStore(tmp_path / "state.db")
    _populate(store, h, 5, now, leads=60)
    columns = "lead_key, total, behavior, attribute, segment, breakdown, next_change_at"
    rescore(store, sheet, settings, now, full=True)
    reference = store.db.execute(f"SELECT {columns} FROM scores ORDER BY lead_key").fetchall()
    longest = max(len(r[0]) for r in store.db.execute("SELECT breakdown FROM scores"))
    store.db.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, max(4000, longest + 100))  # a row fits, a packed read does not
    by_rows = []
    original = loader._scan_rows
    monkeypatch.setattr(loader, "_scan_rows", lambda *a, **k: by_rows.append(k) or original(*a, **k))
    for full in (True, False):
        with store.transaction() as db:
            db.execute("DELETE FROM scores")
            leads.mark_all_dirty(db)
        assert rescore(store, sheet, settings, now, full=full).scored == 60
        assert store.db.execute(f"SELECT {columns} FROM scores ORDER BY lead_key").fetchall() == reference
    assert by_rows and {"keys"} <= set(by_rows[-1])  # the keyed read fell back too
    store.close()

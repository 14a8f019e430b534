"""rescore(): which leads, history rows, dirty flags, next_change_at, sheet versions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from leadsync.core.config import ScoringSettings
from leadsync.core.models import Lead
from leadsync.core.scoring import load_score, load_sheet, rescore
from leadsync.core.state import leads

NOW = datetime(2025, 6, 1, 3, 0, tzinfo=UTC)


def history(store, key: str) -> list[tuple]:  # type: ignore[no-untyped-def]
    return store.db.execute(
        "SELECT total, segment, previous_total, previous_segment, reason, sheet_version FROM score_history "
        "WHERE lead_key = ? ORDER BY id", (key,)).fetchall()


def test_incremental_rescore_history_and_dirty(store, sheet, settings, h) -> None:  # type: ignore[no-untyped-def]
    a = Lead(key="a@x.jp", email="a@x.jp", title="CEO", employees=800, industry="SaaS")  # 75 warm
    b = Lead(key="b@x.jp", email="b@x.jp", title="担当")
    h.put_lead(store, a)
    h.put_lead(store, b)
    first = rescore(store, sheet, settings, NOW)
    assert first.scored == 2 and sorted(first.changed) == ["a@x.jp", "b@x.jp"]
    assert not leads.dirty_keys(store.db)
    assert [tuple(r) for r in history(store, "a@x.jp")] == [(75, "warm", None, None, "sync", sheet.version)]

    assert rescore(store, sheet, settings, NOW).scored == 0  # nothing dirty, nothing due

    h.put_activities(store, [h.act("p1", "a@x.jp", "web_visit", NOW - timedelta(days=1), "https://x.jp/pricing")])
    second = rescore(store, sheet, settings, NOW)
    assert second.scored == 1 and second.changed == ["a@x.jp"] and second.segment_changed == ["a@x.jp"]
    score = load_score(store, "a@x.jp")
    assert score is not None and score.total == 100 and score.segment.value == "hot"
    assert score.breakdown[0].rule == "価格ページ閲覧" and score.breakdown[0].evidence == ["p1"]
    assert score.next_change_at == NOW - timedelta(days=1) + timedelta(days=90)
    assert [tuple(r)[:4] for r in history(store, "a@x.jp")][-1] == (100, "hot", 75, "warm")

    # Nothing new, but the visit leaves the window: the run at that moment rescoring finds it.
    later = NOW + timedelta(days=88)
    assert rescore(store, sheet, settings, later).scored == 0
    expired = rescore(store, sheet, settings, score.next_change_at)
    assert expired.changed == ["a@x.jp"] and expired.segment_changed == ["a@x.jp"]
    assert history(store, "a@x.jp")[-1][4] == "time"
    assert load_score(store, "a@x.jp").next_change_at is None  # type: ignore[union-attr]


def test_unchanged_rescore_writes_no_history(store, sheet, settings, h) -> None:  # type: ignore[no-untyped-def]
    h.put_lead(store, Lead(key="c@x.jp", email="c@x.jp"))
    rescore(store, sheet, settings, NOW)
    h.put_lead(store, Lead(key="c@x.jp", email="c@x.jp", phone="03-0000-0000"))  # dirty, same score
    result = rescore(store, sheet, settings, NOW)
    assert result.scored == 1 and result.changed == []
    assert len(history(store, "c@x.jp")) == 1


def test_new_sheet_version_rescores_everything(store, sheet, settings, h, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    for i in range(3):
        h.put_lead(store, Lead(key=f"l{i}@x.jp", email=f"l{i}@x.jp", title="部長"))
    rescore(store, sheet, settings, NOW)
    text = h.DEFAULT_SHEET.read_text(encoding="utf-8").replace("部長クラス,肩書に部長・マネージャー等が含まれる,20",
                                                               "部長クラス,肩書に部長・マネージャー等が含まれる,25")
    path = tmp_path / "v2.csv"
    path.write_text(text, encoding="utf-8")
    newer = load_sheet(path, settings)
    assert newer.version != sheet.version
    result = rescore(store, newer, settings, NOW)
    assert result.scored == 3 and len(result.changed) == 3
    row = history(store, "l0@x.jp")[-1]
    assert row[0] == 25 and row[4] == f"sheet {sheet.version} -> {newer.version}" and row[5] == newer.version


def test_full_rescore_and_snapshot_untouched(store, sheet, settings, h) -> None:  # type: ignore[no-untyped-def]
    h.put_lead(store, Lead(key="d@x.jp", email="d@x.jp", title="CEO"))
    rescore(store, sheet, settings, NOW)
    copy = store.snapshot()
    h.put_lead(copy, Lead(key="d@x.jp", email="d@x.jp", title="担当"))
    rescore(copy, sheet, settings, NOW)
    assert load_score(copy, "d@x.jp").total == 10  # type: ignore[union-attr]
    assert load_score(store, "d@x.jp").total == 30  # type: ignore[union-attr]
    assert rescore(store, sheet, settings, NOW, full=True).scored == 1


def test_decay_due_leads_are_found_by_next_change(store, h, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    settings = ScoringSettings(half_life_days=7)
    sheet = load_sheet(h.DEFAULT_SHEET, settings)
    h.put_lead(store, Lead(key="e@x.jp", email="e@x.jp"))
    h.put_activities(store, [h.act("w1", "e@x.jp", "webinar_attended", NOW)])
    rescore(store, sheet, settings, NOW)
    first = load_score(store, "e@x.jp")
    assert first is not None and first.total == 20 and first.next_change_at is not None
    result = rescore(store, sheet, settings, first.next_change_at)
    assert result.changed == ["e@x.jp"]
    assert load_score(store, "e@x.jp").total == 19  # type: ignore[union-attr]

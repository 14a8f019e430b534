"""Loading the sheet: the shared template unchanged, TOML form, encodings, errors naming row and column."""

from __future__ import annotations

from pathlib import Path

import pytest
from leadsync.core.config import ScoringSettings
from leadsync.core.errors import ConfigError
from leadsync.core.models import Segment
from leadsync.core.scoring import load_sheet
from leadsync.core.scoring.rules import (
    ActivityCondition,
    FieldCondition,
    RevisitCondition,
)

HEADER = "スコア種別,項目,条件,配点,備考,ルール,上限,半減期\n"


def test_bundled_sheet_is_the_agreed_template_as_marketing_saved_it(h) -> None:  # type: ignore[no-untyped-def]
    text = h.DEFAULT_SHEET.read_bytes().decode("utf-8")
    assert text.splitlines()[0] == "スコア種別,項目,条件,配点,備考"  # the design sheet's own header, no extra column


def test_standard_template_recognized(sheet) -> None:  # type: ignore[no-untyped-def]
    assert len(sheet.rules) == 15
    assert (sheet.hot_min, sheet.warm_min) == (80, 50)
    assert sheet.bands[Segment.COLD] == (None, 49)
    assert [sheet.segment_for(t).value for t in (80, 79, 50, 49, -5)] == ["hot", "warm", "warm", "cold", "cold"]
    by_name = {r.name: r for r in sheet.rules}
    assert by_name["問い合わせフォーム入力開始"].condition == ActivityCondition(frozenset({"form_started", "form_submitted"}))
    assert isinstance(by_name["サイト再訪問(週2回以上)"].condition, RevisitCondition)
    assert by_name["価格ページ閲覧"].condition.url_patterns == tuple(ScoringSettings().pricing_url_patterns)
    size = by_name["企業規模:従業員100-499名"].condition
    assert isinstance(size, FieldCondition) and size.values == (100, 499)
    assert {r.group for r in sheet.rules if not r.is_behaviour} == {"役職", "企業規模", "業種"}
    assert len(sheet.version) == 12


def test_version_ignores_notes_but_not_points(tmp_path: Path, h, settings) -> None:  # type: ignore[no-untyped-def]
    text = h.DEFAULT_SHEET.read_text(encoding="utf-8")
    noted = tmp_path / "noted.csv"
    noted.write_text(text.replace("基本的な関心の表れ", "メモを変更"), encoding="utf-8")
    changed = tmp_path / "changed.csv"
    changed.write_text(text.replace("メールを開封した,5", "メールを開封した,6"), encoding="utf-8")
    base = load_sheet(h.DEFAULT_SHEET, settings).version
    assert load_sheet(noted, settings).version == base
    assert load_sheet(changed, settings).version != base
    assert load_sheet(h.DEFAULT_SHEET, ScoringSettings(window_days=30)).version != base


def test_shift_jis_sheet_loads(tmp_path: Path, h, settings) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "sjis.csv"
    path.write_bytes(h.DEFAULT_SHEET.read_text(encoding="utf-8").encode("cp932"))
    assert load_sheet(path, settings).version == load_sheet(h.DEFAULT_SHEET, settings).version


def test_toml_form_gives_the_same_rules(tmp_path: Path, h, settings) -> None:  # type: ignore[no-untyped-def]
    csv_sheet = load_sheet(h.DEFAULT_SHEET, settings)
    lines = ["[segments]", 'hot = "合計80点以上"', 'warm = "50-79点"', 'cold = "49点以下"', ""]
    for rule in csv_sheet.rules:
        kind = "行動スコア" if rule.is_behaviour else "属性スコア"
        lines += ["[[rules]]", f'kind = "{kind}"', f'name = "{rule.name}"', f"points = {int(rule.points)}", ""]
    path = tmp_path / "sheet.toml"
    path.write_text("\n".join(lines), encoding="utf-8")
    assert load_sheet(path, settings).version == csv_sheet.version


def test_toml_custom_rule_and_errors(tmp_path: Path, settings) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "s.toml"
    path.write_text('[[rules]]\nkind = "behavior"\nname = "価格3回"\npoints = 30\nrule = "pricing_page count>=3"\ncap = 1\n'
                    'half_life_days = 14\n', encoding="utf-8")
    rule = load_sheet(path, settings).rules[0]
    assert rule.condition.min_count == 3 and rule.half_life_days == 14 and rule.cap == 1
    path.write_text('[[rules]]\nkind = "behavior"\nname = "x"\npoints = "many"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"s.toml: \[\[rules\]\] #1, key points: expected a number"):
        load_sheet(path, settings)
    path.write_text('[[rules]]\nkind = "behavior"\nname = "x"\npoints = 1\ncolour = "red"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="key colour: unknown key"):
        load_sheet(path, settings)


@pytest.mark.parametrize("row,message", [
    ("行動スコア,メール開封,,abc,,,,", r"row 2, column 配点: expected a number, got 'abc'"),
    ("行動スコア,謎の行動,,5,,,,", r"row 2, column 項目: '謎の行動' is not a standard item"),
    ("行動スコア,独自,,5,,teleport,,", r"row 2, column ルール: unknown activity type 'teleport'"),
    ("属性スコア,独自,,5,,shoe_size >= 3,,", r"row 2, column ルール: unknown field 'shoe_size'"),
    ("属性スコア,独自,,5,,title is king,,", r"row 2, column ルール: unknown class 'king'"),
    ("行動スコア,メール開封,,5,,,-1,", r"row 2, column 上限: expected a whole number"),
    ("行動スコア,メール開封,,5,,,,0", r"row 2, column 半減期: expected a positive number"),
    ("属性スコア,役職:部長クラス,,5,,,2,", r"row 2, column 上限: caps and half-lives apply to behaviour rows only"),
    ("行動スコア,サイト再訪問(週2回以上),,5,,,2,", r"row 2, column 上限: a revisit rule scores once"),
    ("ボーナス,メール開封,,5,,,,", r"row 2, column スコア種別: unknown スコア種別"),
    ("セグメント定義,ホットリード,たくさん,,,,,", r"row 2, column 条件: cannot read a threshold"),
    ("行動スコア,独自,,5,,plugin_kind: x,,", r"row 2, column ルール: unknown condition kind 'plugin_kind'"),
])
def test_errors_name_file_row_and_column(tmp_path: Path, settings, row: str, message: str) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "bad.csv"
    path.write_text(HEADER + row + "\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"bad.csv: " + message):
        load_sheet(path, settings)


def test_missing_column_and_duplicates(tmp_path: Path, settings) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "bad.csv"
    path.write_text("スコア種別,項目,条件\n行動スコア,メール開封,x\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="row 1: missing column 配点"):
        load_sheet(path, settings)
    path.write_text(HEADER + "行動スコア,メール開封,,5,,,,\n行動スコア,メール開封,,6,,,,\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="row 3, column 項目: 項目 'メール開封' already defined in row 2"):
        load_sheet(path, settings)
    with pytest.raises(ConfigError, match="scoring sheet not found"):
        load_sheet(tmp_path / "missing.csv", settings)


def test_english_headers_and_full_width_points(tmp_path: Path, settings) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "en.csv"
    path.write_text("kind,item,condition,points,note,rule,cap,half_life_days,group\n"
                    "behavior,Email open,,５点,,,,,\nattribute,Free mail,,−10,,email_domain in gmail.com,,,除外\n",
                    encoding="utf-8")
    sheet = load_sheet(path, settings)
    assert [(r.name, r.points, r.group) for r in sheet.rules] == [("Email open", 5, "行動"), ("Free mail", -10, "除外")]

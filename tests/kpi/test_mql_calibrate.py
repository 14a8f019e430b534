"""report mql and score calibrate on hand-computed data; backtest conversion."""

from __future__ import annotations

import csv
import io
import json

import pytest

from leadsync.core.reports.calibrate import calibrate_report, segment_moves
from leadsync.core.state.store import StateStore




@pytest.fixture
def handoffs(project):
    """a: handed off 04-09 (before its meeting, opportunity and win), completed, score 85;
    b: handed off 04-12 (after its meeting), rejected, score 92."""
    store = StateStore(project / "state.db")
    with store.transaction() as db:
        for key, status, score, opened in (("a@x.example", "completed", 85, "2025-04-09T09:00:00+09:00"),
                                           ("b@x.example", "rejected", 92, "2025-04-12T09:00:00+09:00")):
            from datetime import datetime
            t = datetime.fromisoformat(opened).timestamp()
            db.execute("INSERT INTO handoffs(lead_key, connection, status, score, segment, opened_at, due_at, task_key) "
                       "VALUES (?, 'crm', ?, ?, 'hot', ?, ?, ?)", (key, status, score, t, t + 3600, f"task-{key}"))
        for key, rule in (("a@x.example", "価格ページ閲覧"), ("b@x.example", "メール開封")):
            db.execute("INSERT INTO scores(lead_key, total, behavior, attribute, segment, sheet_version, scored_at, "
                       "breakdown) VALUES (?, 50, 50, 0, 'warm', 'v1', 0, ?)",
                       (key, json.dumps([{"rule": rule, "group": "行動", "points": 25, "evidence": []}])))
    store.close()
    return project


def test_mql_passes(handoffs, run):
    data = json.loads(run("report", "mql", "--from", "2025-04-01", "--to", "2025-04-30", "--format", "json").stdout)
    assert (data["handoffs"], data["accepted"], data["meetings"], data["opportunities"], data["won"]) == (2, 1, 1, 1, 1)
    assert data["rates"] == {"pass_rate": 0.5, "meeting_rate": 1.0, "opportunity_rate": 1.0, "win_rate": 1.0,
                             "handoff_to_won": 0.5}
    assert data["mean_score"] == 88.5 and data["indicator"] == 44.25
    bands = json.loads(run("report", "mql", "--by", "score_band", "--from", "2025-04-01", "--to", "2025-04-30",
                           "--format", "json").stdout)["groups"]
    assert [(g["key"], g["handoffs"], g["won"]) for g in bands] == [("80-89", 1, 1), ("90-99", 1, 0)]
    rows = list(csv.DictReader(io.StringIO(run("report", "mql", "--by", "source", "--from", "2025-04-01",
                                               "--to", "2025-04-30", "--format", "csv").stdout)))
    assert [r["group"] for r in rows] == ["(total)", "資料ダウンロード", "展示会"]  # by code, shown by label
    assert "MQL -> won" in run("report", "mql", "--from", "2025-04-01", "--to", "2025-04-30").stdout


def test_mql_of_an_empty_period(handoffs, run):
    data = json.loads(run("report", "mql", "--from", "2024-01-01", "--to", "2024-01-02", "--format", "json").stdout)
    assert data["handoffs"] == 0 and data["indicator"] is None and set(data["rates"].values()) == {None}


def test_calibration_lift_and_suggested_points():
    report = calibrate_report([("R1", "行動", 20), ("R2", "行動", 10), ("R3", "属性", 5)], 100, 20,
                              {"R1": (40, 14), "R2": (10, 1)}, outcome="won", min_leads=20)
    r1, r2, r3 = report["rules"]
    assert (r1["rate"], r1["rest_rate"], r1["lift"], r1["suggested_points"]) == (0.35, 0.1, 3.5, 60)  # lift capped at 3
    assert r2["lift"] == round(0.1 / round(19 / 90, 4), 2) and r2["suggested_points"] == 10 and r2["note"]
    assert r3["leads"] == 0 and r3["rate"] is None and r3["suggested_points"] == 5
    assert report["base_rate"] == 0.2


def test_calibrate_command(handoffs, run):
    data = json.loads(run("score", "calibrate", "--outcome", "won", "--min-leads", "1", "--format", "json").stdout)
    rules = {r["rule"]: r for r in data["rules"]}
    assert data["leads"] == 2 and data["converted"] == 1
    assert rules["価格ページ閲覧"]["leads"] == 1 and rules["価格ページ閲覧"]["converted"] == 1
    assert rules["メール開封"]["rate"] == 0.0 and rules["メール開封"]["lift"] == 0.0
    assert rules["業種:製造業"]["leads"] == 0
    assert run("score", "calibrate", "--format", "csv").stdout.startswith("rule,group,points")
    assert "Sheet rows" in run("score", "calibrate").stdout


def test_segment_moves_count_conversions():
    moves = [("a", "warm", "hot"), ("b", "warm", "hot"), ("c", "hot", "warm")]
    assert segment_moves(moves, {"a"}, outcome="won") == [
        {"from": "hot", "to": "warm", "leads": 1, "converted": 0, "rate": 0.0, "outcome": "won"},
        {"from": "warm", "to": "hot", "leads": 2, "converted": 1, "rate": 0.5, "outcome": "won"},
    ]

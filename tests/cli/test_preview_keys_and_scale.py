"""The preview's task keys are the run's (issue 14: 15); scores show the sheet's maximum (issue 14: 16)."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo


def _newest_activity_day(demo: Path) -> str:
    with open(demo / "data/activities.csv", encoding="utf-8-sig") as handle:
        newest = max(line.split(",")[3] for line in handle.readlines()[1:])
    moment = datetime.fromisoformat(newest).astimezone(ZoneInfo("Asia/Tokyo")) + timedelta(hours=1)
    return moment.replace(second=0, microsecond=0, tzinfo=None).isoformat()


def test_with_as_of_the_preview_shows_the_task_keys_the_run_then_uses(demo: Path, run_cli):
    as_of = _newest_activity_day(demo)
    result = run_cli("handoff", "preview", "--format", "json", "--as-of", as_of)
    assert result.exit_code == 0, result.stderr
    previewed = {p["lead_key"]: p["task_key"] for p in json.loads(result.stdout) if p["action"] == "create_task"}
    assert len(previewed) >= 20 and all(key.startswith("ls-") for key in previewed.values())
    assert run_cli("sync", "run", "--quiet", "--as-of", as_of).exit_code == 0
    db = sqlite3.connect(demo / ".leadsync/state.db")
    assert dict(db.execute("SELECT lead_key, task_key FROM handoffs").fetchall()) == previewed
    tasks = (demo / "out/tasks.csv").read_text(encoding="utf-8-sig")
    assert all(key in tasks for key in previewed.values())


def test_without_as_of_the_preview_shows_no_task_key_the_run_would_not_use(demo: Path, run_cli):
    result = run_cli("handoff", "preview", "--format", "json")
    assert result.exit_code == 0, result.stderr
    plans = json.loads(result.stdout)
    assert plans and all("task_key" not in plan for plan in plans)


def test_scores_are_shown_against_the_sheets_maximum(demo: Path, run_cli):
    # The bundled sheet: behaviour 5+10+20+25+15+20+10 = 105; attributes 30 (title) + 25 (size) + 20 (industry) = 75.
    assert run_cli("sync", "run", "--quiet").exit_code == 0
    result = run_cli("handoff", "preview", "--no-pull", "--format", "json")
    plans = json.loads(result.stdout)
    assert {p["score_max"] for p in plans} == {180}
    top = max(plans, key=lambda p: p["score"])
    table = run_cli("handoff", "preview", "--no-pull").stdout
    assert f"{top['score']}/180" in table
    explained = run_cli("score", "explain", top["email"])
    assert explained.exit_code == 0, explained.stderr
    assert f"{top['score']}/180 points (hot, hot from 80)" in " ".join(explained.stdout.split())
    data = json.loads(run_cli("score", "explain", top["email"], "--format", "json").stdout)
    assert data["total"] == top["score"] and data["max_total"] == 180

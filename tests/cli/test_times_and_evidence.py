"""One time zone for people, clean JSON, evidence a rep can read (issue 14: 11, 12)."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path


def test_sync_status_json_has_iso_times_with_offset_and_cursor_objects(demo: Path, run_cli):
    assert run_cli("sync", "run", "--quiet").exit_code == 0
    data = json.loads(run_cli("sync", "status", "--json").stdout)
    run = data["runs"][0]
    assert isinstance(run["started_at"], str) and run["started_at"].endswith("+09:00")
    datetime.fromisoformat(run["finished_at"])
    assert data["cursors"] and all(isinstance(c["value"], dict) for c in data["cursors"])
    assert all(c["updated_at"].endswith("+09:00") for c in data["cursors"])
    table = run_cli("sync", "status").stdout
    assert "times in Asia/Tokyo" in table and "+00:00" not in table


def _lead_with_opens_and_urls(run_cli) -> str:
    """A hot demo lead whose score holds an e-mail open and a behaviour with a URL (the demo's
    people change with its generator, so none is named here)."""
    plans = json.loads(run_cli("handoff", "preview", "--no-pull", "--format", "json").stdout)
    for plan in plans:
        explained = json.loads(run_cli("score", "explain", plan["email"], "--format", "json").stdout)
        rules = {hit["rule"] for hit in explained["breakdown"]}
        if "メール開封" in rules and rules & {"価格ページ閲覧", "資料ダウンロード", "メールクリック"}:
            return plan["email"]
    raise AssertionError("no hot demo lead with an e-mail open and a URL behaviour")


def test_explain_points_are_integers_and_times_in_the_configured_zone(demo: Path, run_cli):
    assert run_cli("sync", "run", "--quiet").exit_code == 0
    email = _lead_with_opens_and_urls(run_cli)
    data = json.loads(run_cli("score", "explain", email, "--format", "json").stdout)
    assert data["as_of"].endswith("+09:00")
    assert data["next_change_at"] is None or data["next_change_at"].endswith("+09:00")
    assert all(isinstance(hit["points"], int) for hit in data["breakdown"])
    table = run_cli("score", "explain", email).stdout
    assert "30.0" not in table and "+00:00" not in table


def test_explain_evidence_shows_date_type_and_url(demo: Path, run_cli):
    assert run_cli("sync", "run", "--quiet").exit_code == 0
    email = _lead_with_opens_and_urls(run_cli)
    data = json.loads(run_cli("score", "explain", email, "--format", "json").stdout)
    ids = [e for hit in data["breakdown"] if hit["group"] == "行動" for e in hit["evidence"]]
    assert ids
    result = run_cli("score", "explain", email)
    assert result.exit_code == 0
    for activity_id in ids:
        assert activity_id not in result.stdout  # described, not a bare id
    assert "メール開封" in result.stdout and "https://" in result.stdout


def test_handoff_status_before_any_touch_says_no_median_not_none(demo: Path, run_cli):
    assert run_cli("sync", "run", "--quiet").exit_code == 0
    out = run_cli("handoff", "status", "--no-notify").stdout
    assert "None" not in out and "median -" in out


def test_handoff_preview_fits_a_100_column_terminal(demo: Path, run_cli, monkeypatch):
    monkeypatch.setenv("COLUMNS", "100")
    result = run_cli("handoff", "preview")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert len(lines) > 10 and max(len(line) for line in lines) <= 100
    monkeypatch.setenv("COLUMNS", "200")
    wide = run_cli("handoff", "preview").stdout
    assert "top reasons" in wide and max(len(line) for line in wide.splitlines()) <= 200

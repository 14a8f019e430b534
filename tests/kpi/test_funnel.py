"""report funnel and call-timing on hand-computed data: stages, rates, groups, empty periods, formats."""

from __future__ import annotations

import csv
import io
import json

APRIL = ["--from", "2025-04-01", "--to", "2025-04-30"]


def funnel(run, *args: str) -> dict:
    result = run("report", "funnel", *APRIL, "--format", "json", *args)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_stages_and_rates_are_the_hand_computed_ones(project, run):
    data = funnel(run)
    assert data["from"] == "2025-04-01" and data["to"] == "2025-04-30"
    assert data["stages"] == {"calls": 10, "connects": 7, "conversations": 3, "meetings_set": 2,
                              "meetings_held": 1, "opportunities": 1, "wins": 1, "losses": 1}
    assert data["rates"] == {"connect_rate": 0.7, "conversation_rate": 0.3, "meeting_rate": round(2 / 7, 4),
                             "opportunity_rate": 1.0, "win_rate": 0.5}
    assert data["benchmarks"]["connect_rate"] == {"low": 0.2, "high": 0.3}
    assert data["benchmarks"]["calls_per_rep_per_day"] == 34
    # April 2025 in Japan: 22 weekdays less Showa Day (04-29) = 21 business days; 2 reps
    assert data["activity"] == {"reps": 2, "business_days": 21, "calls_per_rep_per_day": round(10 / 2 / 21, 1)}
    assert data["won_amount"] == 1_000_000


def test_groups_by_source_owner_and_week(project, run):
    by_source = {g["key"]: g for g in funnel(run, "--by", "source")["groups"]}
    assert by_source["trade_show"]["stages"]["calls"] == 5 and by_source["trade_show"]["stages"]["connects"] == 4
    assert by_source["trade_show"]["label"] == "展示会"
    assert by_source["trade_show"]["benchmark"]["meeting_rate"] == {"low": 0.15, "high": 0.25}
    assert by_source["content_download"]["stages"]["connects"] == 3
    assert by_source["content_download"]["label"] == "資料ダウンロード"
    assert by_source["content_download"]["benchmark"]["kind"] == "document_download"
    by_owner = {g["key"]: g["stages"] for g in funnel(run, "--by", "owner")["groups"]}
    assert by_owner["sato"]["calls"] == 8 and by_owner["suzuki"]["calls"] == 2
    assert by_owner["suzuki"]["conversations"] == 2 and by_owner["(unknown)"]["meetings_held"] == 1
    weeks = {g["key"]: g["stages"] for g in funnel(run, "--by", "week")["groups"]}
    assert weeks["2025-W15"]["calls"] == 10 and weeks["2025-W17"]["wins"] == 1 and weeks["2025-W14"]["calls"] == 0


def test_connect_definitions_come_from_the_kpi_section(project, run):
    (project / "leadsync.toml").write_text('[state]\npath = "state.db"\n[kpi]\nconnect_seconds = 60\n'
                                           'conversation_seconds = 119\nconnected_outcomes = []\n', encoding="utf-8")
    stages = funnel(run)["stages"]
    assert stages["connects"] == 5 and stages["conversations"] == 4  # 130, 200, 60, 119, 120


def test_an_empty_period_has_zero_stages_and_no_rates(project, run):
    result = run("report", "funnel", "--from", "2024-01-01", "--to", "2024-01-31", "--format", "json")
    data = json.loads(result.stdout)
    assert set(data["stages"].values()) == {0}
    assert set(data["rates"].values()) == {None}
    assert data["activity"]["calls_per_rep_per_day"] is None


def test_a_period_with_meetings_but_no_calls(project, run):
    result = run("report", "funnel", "--from", "2025-04-15", "--to", "2025-04-30", "--format", "json")
    data = json.loads(result.stdout)
    assert data["stages"]["calls"] == 0 and data["stages"]["meetings_held"] == 1
    assert data["rates"]["connect_rate"] is None and data["rates"]["meeting_rate"] is None
    assert data["rates"]["opportunity_rate"] == 1.0 and data["rates"]["win_rate"] == 0.5
    table = run("report", "funnel", "--from", "2025-04-15", "--to", "2025-04-30")
    assert table.exit_code == 0 and "架電 calls" in table.stdout


def test_table_and_csv(project, run):
    table = run("report", "funnel", *APRIL, "--by", "source")
    assert table.exit_code == 0
    assert "通電 connects" in table.stdout and "展示会" in table.stdout and "15%-25%" in table.stdout
    rows = list(csv.DictReader(io.StringIO(run("report", "funnel", *APRIL, "--by", "owner", "--format", "csv").stdout)))
    assert [r["group"] for r in rows] == ["(total)", "sato", "suzuki", "(unknown)"]
    assert rows[0]["calls"] == "10" and rows[0]["connect_rate"] == "0.7"


def test_call_timing_cells_in_tokyo_time(project, run):
    result = run("report", "call-timing", *APRIL, "--format", "json")
    data = json.loads(result.stdout)
    cells = {(c["weekday"], c["hour"]): c for c in data["cells"]}
    # 04-07 is a Monday: three calls at 9h, one (5 s) connected
    assert cells[("mon", 9)] == {"weekday": "mon", "hour": 9, "calls": 3, "connects": 1, "connect_rate": 0.3333}
    assert cells[("tue", 10)]["calls"] == 3 and cells[("tue", 10)]["connects"] == 3
    assert cells[("wed", 16)] == {"weekday": "wed", "hour": 16, "calls": 3, "connects": 2, "connect_rate": 0.6667}
    assert cells[("thu", 11)]["connects"] == 1
    assert sum(c["calls"] for c in data["cells"]) == 10 and data["connects"] == 7
    assert data["best"][0]["weekday"] == "tue" and data["best"][0]["hour"] == 10
    csv_rows = list(csv.DictReader(io.StringIO(run("report", "call-timing", *APRIL, "--format", "csv").stdout)))
    assert len(csv_rows) == 4 and csv_rows[0]["weekday"] == "mon"
    table = run("report", "call-timing", *APRIL).stdout
    assert "月" in table and "10時" in table


def test_call_timing_of_a_period_without_calls(project, run):
    data = json.loads(run("report", "call-timing", "--from", "2025-05-01", "--to", "2025-05-31", "--format", "json").stdout)
    assert data["cells"] == [] and data["best"] == [] and data["connect_rate"] is None
    assert run("report", "call-timing", "--from", "2025-05-01", "--to", "2025-05-31").exit_code == 0


def test_bad_period_is_a_usage_error(project, run):
    result = run("report", "funnel", "--from", "2025-05-01", "--to", "2025-04-01")
    assert result.exit_code == 2

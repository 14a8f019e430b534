"""leadsync plan: the back-calculation, rate sources, periods, formats."""

from __future__ import annotations

import csv
import io
import json

import pytest

from leadsync.core.reports.plan import PlanError, back_calculate, choose_rates

PERIOD = {"from": "2025-05-01", "to": "2025-05-31"}


def test_the_articles_example_comes_out_exactly():
    rates = choose_rates({}, {"connect_rate": 0.2, "meeting_rate": 0.1, "opportunity_rate": 0.35, "win_rate": 0.25},
                         min_history=30)
    plan = back_calculate(meetings=20, revenue=None, rates=rates, deal_size=None, business_days=20, reps=1,
                          period=PERIOD)
    assert plan["meetings"] == 20 and plan["connects"] == 200 and plan["calls"] == 1000
    assert plan["calls_per_rep_per_day"] == 50.0
    assert all(r["source"] == "given" for r in plan["rates"].values())


def test_revenue_goal_works_back_through_every_rate():
    rates = choose_rates({}, {"connect_rate": 0.2, "meeting_rate": 0.1, "opportunity_rate": 0.5, "win_rate": 0.25},
                         min_history=30)
    plan = back_calculate(meetings=None, revenue=3_000_000, rates=rates, deal_size=1_000_000, business_days=20,
                          reps=2, period=PERIOD)
    assert (plan["wins"], plan["opportunities"], plan["meetings"], plan["connects"], plan["calls"]) == (3, 12, 24, 240, 1200)
    assert plan["calls_per_rep_per_day"] == 30.0
    with pytest.raises(PlanError, match="deal-size"):
        back_calculate(meetings=None, revenue=1, rates=rates, deal_size=None, business_days=1, reps=1, period=PERIOD)


def test_rates_from_history_only_when_measured_on_enough_cases():
    history = {"calls": 100, "connects": 25, "meetings_set": 3, "meetings_held": 10, "opportunities": 4,
               "wins": 0, "losses": 0}
    rates = choose_rates(history, {"win_rate": None}, min_history=30)
    assert rates["connect_rate"] == {"value": 0.25, "source": "history", "measured_on": 100}
    assert rates["meeting_rate"] == {"value": 0.15, "source": "benchmark", "measured_on": 25}
    assert rates["opportunity_rate"]["source"] == "benchmark" and rates["opportunity_rate"]["value"] == 0.35
    assert rates["win_rate"] == {"value": 0.25, "source": "benchmark", "measured_on": 0}
    with pytest.raises(PlanError):
        choose_rates(history, {"connect_rate": 1.5}, min_history=30)


def test_plan_command_month_reps_and_formats(project, run):
    args = ["plan", "--meetings", "20", "--connect-rate", "0.2", "--meeting-rate", "0.1", "--month", "2025-05",
            "--reps", "2", "--as-of", "2025-04-30T12:00"]
    data = json.loads(run(*args, "--format", "json").stdout)
    assert data["calls"] == 1000 and data["connects"] == 200 and data["meetings"] == 20
    # May 2025 in Japan: 22 weekdays less 05-05 and the substitute holiday 05-06
    assert data["business_days"] == 20 and data["reps"] == 2 and data["calls_per_rep_per_day"] == 25.0
    assert data["rates"]["opportunity_rate"]["source"] == "benchmark"  # 1 meeting held in history: too thin
    assert data["opportunities"] == 7.0 and data["targets"] == {"meetings": 20}
    rows = {r["item"]: r for r in csv.DictReader(io.StringIO(run(*args, "--format", "csv").stdout))}
    assert rows["calls"]["value"] == "1000" and rows["connects"]["rate_source"] == "given"
    table = run(*args)
    assert table.exit_code == 0 and "1000" in table.stdout and "25.0" in table.stdout


def test_plan_uses_the_teams_history(project, run):
    (project / "leadsync.toml").write_text('[state]\npath = "state.db"\n[kpi]\nmin_history = 1\n', encoding="utf-8")
    data = json.loads(run("plan", "--revenue", "2000000", "--days", "10", "--as-of", "2025-04-30T12:00",
                          "--format", "json").stdout)
    assert data["rates"]["connect_rate"] == {"value": 0.7, "source": "history", "measured_on": 10}
    assert data["rates"]["win_rate"]["value"] == 0.5 and data["targets"]["deal_size"] == 1_000_000
    assert data["wins"] == 2 and data["opportunities"] == 4 and data["reps"] == 2 and data["reps_source"] == "history"


def test_plan_usage_errors(project, run):
    assert run("plan", "--as-of", "2025-04-30").exit_code == 2
    assert run("plan", "--meetings", "5", "--revenue", "10").exit_code == 2
    # no won opportunity in the history window before 2025-04-01, and no --deal-size
    assert run("plan", "--revenue", "100", "--as-of", "2025-04-01").exit_code == 2
    assert run("plan", "--meetings", "5", "--month", "2025-13").exit_code == 2

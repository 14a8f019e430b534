"""Configuration errors: named by file and line (or variable), raised before anything is written (issue 14: 1, 6, 7, 15)."""

from __future__ import annotations

from pathlib import Path

import pytest


def _set_handoff(demo: Path, line: str) -> Path:
    config = demo / "leadsync.toml"
    key = line.split("=")[0].strip()
    lines = [ln for ln in config.read_text(encoding="utf-8").splitlines() if not ln.startswith(f"{key} =")]
    lines.insert(lines.index("[handoff]") + 1, line)
    config.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return config


@pytest.mark.parametrize(
    ("line", "key", "problem"),
    [
        ('workdays = "weekdays"', "handoff.workdays", "unknown day 'weekdays'"),
        ('holidays = "XX"', "handoff.holidays", "'XX' is not a country code"),
        ('closed_dates = ["12-32"]', "handoff.closed_dates", "'12-32' is not a date"),
        ('business_hours = "18:00-09:00"', "handoff.business_hours", "must open before it closes"),
        ("sla_business_hours = 0", "handoff.sla_business_hours", "greater than 0"),
    ],
)
def test_a_bad_calendar_value_exits_2_naming_file_line_and_key_before_any_write(demo: Path, line, key, problem, run_cli):
    config = _set_handoff(demo, line)
    result = run_cli("sync", "run")
    assert result.exit_code == 2
    line_no = config.read_text(encoding="utf-8").splitlines().index(line) + 1
    assert f"{config}:{line_no}: {key}: " in result.stderr and problem in result.stderr
    assert not (demo / ".leadsync").exists() and not any((demo / "out").iterdir())


def test_a_run_that_dies_midway_is_marked_failed_not_left_running(demo: Path, monkeypatch, run_cli):
    import sqlite3

    from leadsync.core import handoff

    def boom(*args, **kwargs):
        raise RuntimeError("planning exploded")

    monkeypatch.setattr(handoff, "plan_handoffs", boom)
    with pytest.raises(RuntimeError):
        run_cli("sync", "run")
    rows = sqlite3.connect(demo / ".leadsync/state.db").execute("SELECT status, finished_at FROM runs").fetchall()
    assert len(rows) == 1 and rows[0][0] == "failed" and rows[0][1] is not None


@pytest.mark.parametrize("command", [
    ["sync", "run"], ["sync", "status"], ["score", "lint"], ["handoff", "status"], ["handoff", "preview"],
    ["connections", "check"], ["connections", "list"], ["report", "feedback"], ["doctor"],
])
def test_without_leadsync_toml_every_command_says_so_exits_2_and_creates_nothing(tmp_path, monkeypatch, command, run_cli):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("LEADSYNC_CONFIG", raising=False)
    result = run_cli(*command)
    assert result.exit_code == 2, result.output
    assert "no leadsync.toml here" in result.stderr and "--config" in result.stderr
    assert "leadsync init" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_an_environment_variable_error_names_the_variable_not_a_toml_line(demo: Path, monkeypatch, run_cli):
    monkeypatch.setenv("LEADSYNC_SCORING__WINDOW_DAYS", "abc")
    result = run_cli("sync", "status")
    assert result.exit_code == 2
    assert "environment variable LEADSYNC_SCORING__WINDOW_DAYS: scoring.window_days:" in result.stderr
    assert "leadsync.toml" not in result.stderr


def test_an_unknown_section_is_named_with_its_line(demo: Path, run_cli):
    config = demo / "leadsync.toml"
    config.write_text(config.read_text(encoding="utf-8") + "\n[handof]\nowners = []\n", encoding="utf-8")
    line_no = config.read_text(encoding="utf-8").splitlines().index("[handof]") + 1
    result = run_cli("sync", "run")
    assert result.exit_code == 2 and f"{config}:{line_no}: handof: unknown section or key" in result.stderr


def test_a_connection_level_error_names_the_table_line_and_no_bare_value_error(demo: Path, run_cli):
    config = demo / "leadsync.toml"
    text = config.read_text(encoding="utf-8").replace('plugin = "file"\n', 'plugin = "file"\nbogus = 1\n')
    config.write_text(text, encoding="utf-8")
    line_no = text.splitlines().index("bogus = 1") + 1
    result = run_cli("connections", "check")
    assert result.exit_code == 2 and f"{config}:{line_no}: connections.demo.bogus: unknown key" in result.stderr
    assert "Value error" not in result.stderr

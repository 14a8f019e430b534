"""Configuration: TOML, environment overrides, .env, and errors that name the file and key."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from leadsync.core.config import load_settings
from leadsync.core.errors import ConfigError


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "leadsync.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_and_relative_paths(tmp_path):
    settings = load_settings(write(tmp_path, "[scoring]\nwindow_days = 30\n"))
    assert settings.scoring.window_days == 30
    assert settings.handoff.sla_business_hours == 9
    assert settings.state_path == tmp_path / ".leadsync" / "state.db"
    assert settings.sheet_path == tmp_path / "scoring-sheet.csv"


def test_environment_overrides_nested_keys(tmp_path, monkeypatch):
    path = write(tmp_path, '[connections.crm]\nplugin = "hubspot"\ntoken = "from-file"\n')
    monkeypatch.setenv("LEADSYNC_CONNECTIONS__CRM__TOKEN", "from-env")
    monkeypatch.setenv("LEADSYNC_HANDOFF__COOLDOWN_DAYS", "7")
    settings = load_settings(path)
    assert settings.connections["crm"] == {"plugin": "hubspot", "token": "from-env"}
    assert settings.handoff.cooldown_days == 7


def test_dotenv_beside_the_file(tmp_path, monkeypatch):
    path = write(tmp_path, '[connections.crm]\nplugin = "hubspot"\n')
    (tmp_path / ".env").write_text("LEADSYNC_CONNECTIONS__CRM__TOKEN=dotenv-token\n")
    monkeypatch.delenv("LEADSYNC_CONNECTIONS__CRM__TOKEN", raising=False)
    assert load_settings(path).connections["crm"]["token"] == "dotenv-token"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('[scoring]\nwindow_days = "ninety"\n', ":2: scoring.window_days: Input should be a valid integer"),
        ("[handoff]\nsla_hours = 9\n", ":2: handoff.sla_hours: unknown key"),
        ('[handoff]\nbusiness_hours = "18:00-09:00"\n', "handoff.business_hours"),
        ('[scoring]\ntimezone = "Mars/Olympus"\n', "scoring.timezone"),
        ('[handoff]\nclosed_dates = ["12/31"]\n', "handoff.closed_dates"),
        ("[scoring\nwindow_days = 1\n", "invalid TOML"),
    ],
)
def test_errors_name_the_file_and_key(tmp_path, text, expected):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_settings(path)
    assert str(path) in str(info.value)
    assert expected in str(info.value)


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_settings(tmp_path / "nope.toml")


def test_malformed_config_exits_2_and_writes_nothing(tmp_path):
    path = write(tmp_path, '[state]\npath = "state/state.db"\n[scoring]\nwindow_days = -1\n')
    result = subprocess.run(
        [sys.executable, "-m", "leadsync", "--config", str(path), "sync", "run"],
        capture_output=True, text=True, cwd=tmp_path,
    )
    assert result.returncode == 2
    assert "scoring.window_days" in result.stderr and str(path) in result.stderr
    assert not (tmp_path / "state").exists()

"""`leadsync init`: starter files, the demo set-up, and no silent overwrite."""

from __future__ import annotations

import csv
from pathlib import Path

from click.testing import CliRunner

from leadsync.connectors.builtin.file import FileSettings
from leadsync.core.cli.main import cli
from leadsync.core.config import load_settings

SHARED_SHEET = Path(__file__).parents[2] / "src/core/data/scoring-sheet.csv"


def _init(*args: str):
    return CliRunner().invoke(cli, ["init", *args], catch_exceptions=False)


def test_init_writes_a_config_that_loads_and_the_default_sheet(tmp_path: Path):
    result = _init(str(tmp_path / "proj"))
    assert result.exit_code == 0, result.output
    assert "Next steps" in result.output
    settings = load_settings(tmp_path / "proj" / "leadsync.toml")
    assert settings.connections == {} and settings.scoring.window_days == 90
    assert settings.scoring.timezone == "Asia/Tokyo" and settings.handoff.sla_business_hours == 9
    assert (tmp_path / "proj" / "scoring-sheet.csv").read_bytes() == SHARED_SHEET.read_bytes()
    assert not (tmp_path / "proj" / "data").exists()


def test_init_demo_writes_data_and_a_file_connection(tmp_path: Path):
    result = _init(str(tmp_path), "--demo")
    assert result.exit_code == 0, result.output
    settings = load_settings(tmp_path / "leadsync.toml")
    assert settings.handoff.owners == ["sato", "suzuki", "tanaka"]
    demo = FileSettings.model_validate(settings.connections["demo"])
    assert demo.plugin == "file" and str(demo.path) == "data" and str(demo.output) == "out"
    assert [r.value for r in demo.roles] == ["leads", "activities", "scores", "tasks"]
    with open(tmp_path / "data" / "leads.csv", encoding="utf-8-sig", newline="") as handle:
        assert len(list(csv.DictReader(handle))) == 300
    with open(tmp_path / "data" / "activities.csv", encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    marketing = [r for r in rows if r["id"].startswith("A")]
    assert len(marketing) == 5000 and not any(r["owner"] for r in marketing)
    assert len(rows) > 5000 + 5000  # and a quarter of calls and meetings, each with its rep
    assert all(r["owner"] for r in rows if r["id"].startswith("S"))
    with open(tmp_path / "data" / "opportunities.csv", encoding="utf-8-sig", newline="") as handle:
        assert len(list(csv.DictReader(handle))) > 10
    assert "leadsync sync run" in result.output and "handoff preview" in result.output


def test_init_refuses_to_overwrite_without_force(tmp_path: Path):
    (tmp_path / "scoring-sheet.csv").write_text("mine\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["init", str(tmp_path)])
    assert result.exit_code == 2
    assert "scoring-sheet.csv already exists" in result.output
    assert (tmp_path / "scoring-sheet.csv").read_text(encoding="utf-8") == "mine\n"
    assert not (tmp_path / "leadsync.toml").exists()  # nothing written at all
    forced = _init(str(tmp_path), "--force")
    assert forced.exit_code == 0
    assert (tmp_path / "scoring-sheet.csv").read_bytes() == SHARED_SHEET.read_bytes()


def test_demo_data_is_checked_for_overwrite_too(tmp_path: Path):
    assert _init(str(tmp_path)).exit_code == 0
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "leads.csv").write_text("email\nmine@example.jp\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["init", str(tmp_path), "--demo", "--force"])
    assert result.exit_code == 0
    result = CliRunner().invoke(cli, ["init", str(tmp_path), "--demo"])
    assert result.exit_code == 2 and "leadsync.toml already exists" in result.output


def test_the_starter_configs_inline_comments_line_up(tmp_path: Path):
    """Every `key = value  # comment` of the starter file starts its comment in one column."""
    import re

    for args in ((str(tmp_path / "plain"),), (str(tmp_path / "demo"), "--demo")):
        assert _init(*args).exit_code == 0
        text = (Path(args[0]) / "leadsync.toml").read_text(encoding="utf-8")
        columns = {line.index("  # ") + 2 for line in text.splitlines() if re.match(r"^#? ?[^#\s].*\S  +# ", line)}
        assert columns == {40}, [line for line in text.splitlines() if "  # " in line]

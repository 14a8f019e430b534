"""Every KPI command on the synced demo, in table, JSON and CSV; report html in a real browser."""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from leadsync.core.cli.main import cli


@pytest.fixture(scope="module")
def synced_demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("kpi-demo") / "demo"
    runner = CliRunner()
    assert runner.invoke(cli, ["init", "--demo", str(root)], catch_exceptions=False).exit_code == 0
    result = runner.invoke(cli, ["--config", str(root / "leadsync.toml"), "sync", "run", "--quiet"],
                           catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return root


def _run(root: Path, *args: str) -> str:
    result = CliRunner().invoke(cli, ["--config", str(root / "leadsync.toml"), *args], catch_exceptions=False)
    assert result.exit_code == 0, (args, result.output)
    return result.stdout


QUARTER = ["--from", "2000-01-01", "--to", "2100-12-31"]
COMMANDS = [
    ["report", "funnel", *QUARTER], ["report", "funnel", "--by", "source", *QUARTER],
    ["report", "funnel", "--by", "owner"], ["report", "funnel", "--by", "month", "--from", "2000-01-01"],
    ["report", "funnel", "--by", "segment"], ["report", "call-timing", *QUARTER],
    ["report", "mql", "--by", "score_band"], ["plan", "--meetings", "20"], ["score", "calibrate"],
]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c[:3]))
def test_every_command_in_every_format(synced_demo, command):
    assert _run(synced_demo, *command).strip()
    json.loads(_run(synced_demo, *command, "--format", "json"))
    rows = list(csv.reader(io.StringIO(_run(synced_demo, *command, "--format", "csv"))))
    assert len(rows) >= 2 and len({len(r) for r in rows}) == 1


def test_the_demo_shows_a_meaningful_funnel(synced_demo):
    data = json.loads(_run(synced_demo, "report", "funnel", "--by", "owner", *QUARTER, "--format", "json"))
    stages, rates = data["stages"], data["rates"]
    assert stages["calls"] > 5000 and 0.42 < rates["connect_rate"] < 0.58 and 0.15 < rates["conversation_rate"] < 0.25
    assert stages["meetings_set"] > 50 and stages["opportunities"] > 10 and stages["wins"] >= 1
    assert {g["key"] for g in data["groups"]} == {"sato", "suzuki", "tanaka"}
    timing = json.loads(_run(synced_demo, "report", "call-timing", *QUARTER, "--format", "json"))
    assert len(timing["cells"]) == 50 and timing["best"][0]["connect_rate"] > 0.55  # 5 weekdays x 10 hours
    plan = json.loads(_run(synced_demo, "plan", "--meetings", "20", "--format", "json"))
    assert plan["rates"]["connect_rate"]["source"] == "history" and plan["calls"] > 0


def test_score_backtest_shows_conversion(synced_demo, tmp_path):
    sheet = (synced_demo / "scoring-sheet.csv").read_text(encoding="utf-8-sig").replace(",メールを開封した,5,", ",メールを開封した,40,")
    (tmp_path / "new.csv").write_text(sheet, encoding="utf-8")
    data = json.loads(_run(synced_demo, "score", "backtest", "--sheet", str(tmp_path / "new.csv"), "--outcome",
                           "meeting", "--format", "json"))
    assert data["changed"] > 0
    assert sum(c["leads"] for c in data["conversion"]) == data["changed"]
    assert all(0 <= c["converted"] <= c["leads"] for c in data["conversion"])


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


def test_report_html_is_self_contained(synced_demo, tmp_path):
    out = tmp_path / "report.html"
    _run(synced_demo, "report", "html", "-o", str(out), *QUARTER)
    page = out.read_text(encoding="utf-8")
    assert page.count("<svg") == 5 and "<script" not in page
    # nothing fetched when opened: no src=, no <link>, no url(...) outside the page, no @import
    assert not re.search(r"""\ssrc=|<link|@import|url\((?!#)""", page)
    assert "ファネル" in page and "通電率" in page


@pytest.mark.skipif(_chromium() is None, reason="no Chromium installed (Debian: apt-get install chromium); "
                    ".ci/run installs it before the tests")
def test_report_html_renders_in_headless_chromium(synced_demo, tmp_path):
    out = tmp_path / "report.html"
    _run(synced_demo, "report", "html", "-o", str(out), *QUARTER)
    command = [_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
               "--user-data-dir=" + str(tmp_path / "profile"), "--dump-dom", out.as_uri()]
    dom = subprocess.run(command, capture_output=True, text=True, timeout=120, check=True).stdout
    for section in ("funnel", "call-timing", "sla", "scores", "feedback"):
        match = re.search(rf'<section id="{section}">(.*?)</section>', dom, re.S)
        assert match, section
        assert "<svg" in match.group(1) and re.search(r"<(path|rect|use)\b", match.group(1)), section
    assert "架電" in dom and "受注" in dom and "スコア分布" in dom
    shot = tmp_path / "shot.png"
    subprocess.run([_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--user-data-dir=" + str(tmp_path / "profile2"), f"--screenshot={shot}",
                    "--window-size=1200,3000", out.as_uri()], capture_output=True, timeout=120, check=True)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000

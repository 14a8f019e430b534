"""A demo project for the quality gate (in-process CLI)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from leadsync.core.cli.main import cli


class Demo:
    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def invoke(self, *args: str):
        return CliRunner().invoke(cli, ["--config", str(self.folder / "leadsync.toml"), *args],
                                  catch_exceptions=False)

    def json(self, *args: str):
        result = self.invoke(*args)
        return json.loads(result.stdout)

    def configure(self, text: str) -> None:
        with (self.folder / "leadsync.toml").open("a", encoding="utf-8") as handle:
            handle.write("\n" + text)

    def replace_in_data(self, old: str, new: str) -> None:
        for name in ("leads.csv", "activities.csv"):
            path = self.folder / "data" / name
            path.write_text(path.read_text(encoding="utf-8-sig").replace(old, new), encoding="utf-8-sig")

    def out(self, name: str) -> str:
        path = self.folder / "out" / name
        return path.read_text(encoding="utf-8-sig") if path.exists() else ""


@pytest.fixture
def demo(tmp_path: Path) -> Demo:
    result = CliRunner().invoke(cli, ["init", "--demo", str(tmp_path / "demo"), "--force"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return Demo(tmp_path / "demo")

"""A demo project (the bundled file connector) per test, and a CliRunner that invokes the CLI."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from leadsync.core.cli.main import cli


@pytest.fixture(scope="session")
def _demo_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("demo-template") / "demo"
    result = CliRunner().invoke(cli, ["init", "--demo", str(root)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return root


@pytest.fixture
def demo(_demo_template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh copy of the demo project; the working directory is its folder."""
    monkeypatch.setenv("LEADSYNC_LOAD_PLUGINS", "")
    monkeypatch.delenv("LEADSYNC_CONFIG", raising=False)
    target = tmp_path / "demo"
    shutil.copytree(_demo_template, target)
    monkeypatch.chdir(target)
    return target


def _run_cli(*args: str, input: str | None = None) -> Result:
    """The CLI in-process, stdout and stderr kept apart."""
    return CliRunner().invoke(cli, list(args), input=input, catch_exceptions=False)


@pytest.fixture
def run_cli():
    return _run_cli

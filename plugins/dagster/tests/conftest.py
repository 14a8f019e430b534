"""Demo projects (the bundled file connector) in tmp_path, one folder per project."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

pytest.importorskip("dagster", reason="dagster is not installed (pip install -e plugins/dagster)")

from click.testing import CliRunner  # noqa: E402

from leadsync.core.cli.main import cli  # noqa: E402


@pytest.fixture(scope="session")
def _demo_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("demo-template") / "demo"
    result = CliRunner().invoke(cli, ["init", "--demo", str(root)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return root


@pytest.fixture
def make_project(_demo_template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Path]:
    """`make_project("acme")`: a fresh copy of the demo in tmp_path/acme; returns its leadsync.toml."""
    monkeypatch.delenv("LEADSYNC_CONFIG", raising=False)
    for name in ("LEADSYNC_STATE__PATH", "LEADSYNC_STATE__URL"):
        monkeypatch.delenv(name, raising=False)

    def make(name: str, extra_toml: str = "") -> Path:
        target = tmp_path / name
        shutil.copytree(_demo_template, target)
        config = target / "leadsync.toml"
        if extra_toml:
            config.write_text(config.read_text(encoding="utf-8") + "\n" + extra_toml, encoding="utf-8")
        return config

    return make

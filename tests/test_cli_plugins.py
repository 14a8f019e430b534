"""`leadsync plugins install/uninstall`: what they ask pip for, with the same Python."""

from __future__ import annotations

import sys

from click.testing import CliRunner

from leadsync.core.cli import plugins as plugins_cli
from leadsync.core.cli.main import cli


def pip_calls(monkeypatch) -> list[list[str]]:
    calls: list[list[str]] = []

    class Done:
        returncode = 0

    def fake_run(command, check):
        calls.append(command)
        return Done()

    monkeypatch.setattr(plugins_cli.subprocess, "run", fake_run)
    return calls


def test_install_a_vendor_from_this_checkout(monkeypatch):
    calls = pip_calls(monkeypatch)
    result = CliRunner().invoke(cli, ["plugins", "install", "hubspot"])
    assert result.exit_code == 0, result.output
    [command] = calls
    assert command[:4] == [sys.executable, "-m", "pip", "install"]
    assert command[-2:] == ["-e", str(plugins_cli.CHECKOUT_PLUGINS / "hubspot")]


def test_install_from_the_index_when_not_in_a_checkout(monkeypatch, tmp_path):
    monkeypatch.setattr(plugins_cli, "CHECKOUT_PLUGINS", tmp_path)
    calls = pip_calls(monkeypatch)
    CliRunner().invoke(cli, ["plugins", "install", "zoho", "leadsync-pipedrive>=1.2", "-U"])
    assert calls[0][3:] == ["install", "--upgrade", "leadsync-zoho", "leadsync-pipedrive>=1.2"]


def test_uninstall_and_pip_failure_exit_status(monkeypatch):
    calls = pip_calls(monkeypatch)
    CliRunner().invoke(cli, ["plugins", "uninstall", "hubspot", "leadsync-kintone"])
    assert calls[0][3:] == ["uninstall", "-y", "leadsync-hubspot", "leadsync-kintone"]

    class Failed:
        returncode = 1

    monkeypatch.setattr(plugins_cli.subprocess, "run", lambda command, check: Failed())
    result = CliRunner().invoke(cli, ["plugins", "install", "nope"])
    assert result.exit_code == 1 and "pip exited with status 1" in result.output

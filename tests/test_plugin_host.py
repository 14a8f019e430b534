"""The plugin host: built-ins, entry points, isolation of broken plugins, LEADSYNC_LOAD_PLUGINS."""

from __future__ import annotations

import sys
import textwrap
from importlib import metadata
from pathlib import Path

import pytest

from leadsync.connectors import plugins as plugins_module
from leadsync.connectors.plugins import get_plugin_host


@pytest.fixture
def fake_entry_points(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Three installed plugins: one good, one that fails to import, one with a bad hook."""
    (tmp_path / "good_plugin.py").write_text(textwrap.dedent("""
        from leadsync.connectors.base import Connector
        from leadsync.connectors.hookspecs import hookimpl

        class GoodConnector(Connector):
            name = "good"

        @hookimpl
        def register_connectors(register):
            register(GoodConnector)
    """))
    (tmp_path / "broken_import.py").write_text("import does_not_exist_anywhere\n")
    (tmp_path / "bad_hook.py").write_text(textwrap.dedent("""
        from leadsync.connectors.hookspecs import hookimpl

        @hookimpl
        def register_connectors(register, unknown_argument):
            pass
    """))
    (tmp_path / "misspelled_hook.py").write_text(textwrap.dedent("""
        from leadsync.connectors.hookspecs import hookimpl

        @hookimpl
        def register_conectors(register):
            pass
    """))
    monkeypatch.syspath_prepend(str(tmp_path))
    eps = [metadata.EntryPoint(name=n, value=n if n != "good" else "good_plugin", group="leadsync")
           for n in ("good", "broken_import", "bad_hook", "misspelled_hook")]
    monkeypatch.setattr(plugins_module.metadata, "entry_points", lambda group: [e for e in eps if e.group == group])
    yield
    for name in ("good_plugin", "broken_import", "bad_hook", "misspelled_hook"):
        sys.modules.pop(name, None)


def test_builtin_file_connector_is_a_plugin():
    host = get_plugin_host(load_entrypoints=False)
    assert "file" in host.connectors()
    assert host.failures == []


def test_broken_plugins_are_reported_by_name_and_do_not_take_others_down(fake_entry_points, monkeypatch):
    monkeypatch.delenv("LEADSYNC_LOAD_PLUGINS", raising=False)
    host = get_plugin_host()
    failed = {f.name: f.error for f in host.failures}
    assert set(failed) == {"broken_import", "bad_hook", "misspelled_hook"}
    assert "does_not_exist_anywhere" in failed["broken_import"]
    assert "unknown_argument" in failed["bad_hook"]
    assert "register_conectors" in failed["misspelled_hook"]
    assert {"file", "good"} <= set(host.connectors())


def test_load_plugins_allow_list(fake_entry_points, monkeypatch):
    monkeypatch.setenv("LEADSYNC_LOAD_PLUGINS", "good")
    host = get_plugin_host()
    assert host.failures == []
    assert set(host.connectors()) == {"file", "good"}


def test_load_plugins_empty_means_none(fake_entry_points, monkeypatch):
    monkeypatch.setenv("LEADSYNC_LOAD_PLUGINS", "")
    host = get_plugin_host()
    assert set(host.connectors()) == {"file"}


def test_plugins_list_shows_failures_and_cli_still_works(fake_entry_points, monkeypatch):
    from click.testing import CliRunner

    from leadsync.core.cli.main import cli

    monkeypatch.delenv("LEADSYNC_LOAD_PLUGINS", raising=False)
    result = CliRunner().invoke(cli, ["plugins", "list", "--json"])
    assert result.exit_code == 0, result.output
    import json

    rows = {r["name"]: r for r in json.loads(result.stdout)}
    assert rows["file"]["builtin"] and rows["file"]["connectors"] == ["file"]
    assert rows["good"]["connectors"] == ["good"]
    assert rows["broken_import"]["error"].startswith("ModuleNotFoundError")

"""Every hook is documented and tested (datasette's meta-tests), and the core hooks work."""

from __future__ import annotations

import re
from pathlib import Path

from click.testing import CliRunner

from leadsync.connectors import hookspecs
from leadsync.connectors.base import Connector
from leadsync.connectors.hookspecs import hookimpl
from leadsync.connectors.plugins import get_plugin_host
from leadsync.core.models import Lead
from leadsync.core.state.store import StateStore
from leadsync.core.sync.identity import ingest

ROOT = Path(__file__).resolve().parents[1]
HOOKS = sorted(name for name in dir(hookspecs) if hasattr(getattr(hookspecs, name), "leadsync_spec"))


def test_hooks_are_found():
    assert {"register_connectors", "normalize_lead", "route_owner", "handoff_created"} <= set(HOOKS)


def test_every_hook_is_documented():
    text = (ROOT / "docs" / "plugins" / "hooks.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"^## (\w+)\(", text, flags=re.M))
    assert set(HOOKS) == documented


def test_every_hook_has_a_test():
    sources = "\n".join(p.read_text(encoding="utf-8") for p in (ROOT / "tests").rglob("test_*.py"))
    missing = [hook for hook in HOOKS if f"def test_hook_{hook}" not in sources]
    assert missing == []


def test_hook_register_connectors():
    class Acme(Connector):
        name = "acme-test"

    class Plugin:
        @hookimpl
        def register_connectors(self, register):
            register(Acme)

    host = get_plugin_host(load_entrypoints=False)
    host.pm.register(Plugin(), name="acme-test")
    assert host.connectors()["acme-test"] is Acme


def test_hook_normalize_lead():
    class Plugin:
        @hookimpl
        def normalize_lead(self, lead, connection):
            return lead.model_copy(update={"company": f"{lead.company} [{connection}]"})

    host = get_plugin_host(load_entrypoints=False)
    host.pm.register(Plugin())
    store = StateStore(":memory:")
    with store.transaction() as db:
        ingest(db, "crm", [Lead(key="a@b.jp", email="a@b.jp", company="Acme", refs={"crm": "1"})],
               stream="leads", crm_connections=set(), run_id=None, normalize_hook=host.hook.normalize_lead)
    data = Lead.model_validate_json(store.db.execute("SELECT data FROM leads").fetchone()[0])
    assert data.company == "Acme [crm]"


def test_hook_register_commands(monkeypatch):
    import click

    from leadsync.core.cli import main as main_module

    class Plugin:
        @hookimpl
        def register_commands(self, cli):
            @cli.command("acme-hello")
            def hello():
                click.echo("hello from acme")

    host = get_plugin_host(load_entrypoints=False)
    host.pm.register(Plugin())
    monkeypatch.setattr("leadsync.connectors.plugins.get_plugin_host", lambda **kw: host)
    main_module._add_plugin_commands()
    try:
        result = CliRunner().invoke(main_module.cli, ["acme-hello"])
        assert result.output.strip() == "hello from acme"
    finally:
        main_module.cli.commands.pop("acme-hello", None)
        main_module.App.default_host = None


def test_hook_register_notify_channels(tmp_path, monkeypatch):
    """A plugin adds a channel kind; a channel of that kind receives one notice per handoff."""
    from leadsync.core.cli.app import App
    from leadsync.core.notify import Channel

    received = []

    class Memory(Channel):
        kind = "memory-test"

        def send(self, notice):
            received.append(notice)

    class Plugin:
        @hookimpl
        def register_notify_channels(self, register):
            register(Memory)

    host = get_plugin_host(load_entrypoints=False)
    host.pm.register(Plugin(), name="memory-test")
    monkeypatch.setattr(App, "default_host", host)
    from leadsync.core.cli.main import cli

    runner = CliRunner()
    assert runner.invoke(cli, ["init", "--demo", str(tmp_path / "d"), "--force"]).exit_code == 0
    config = tmp_path / "d" / "leadsync.toml"
    config.write_text(config.read_text(encoding="utf-8") + '\n[notify.channels.mem]\nkind = "memory-test"\n'
                      'events = ["handoff_created"]\n', encoding="utf-8")
    result = runner.invoke(cli, ["--config", str(config), "sync", "run", "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    import json

    created = json.loads(result.stdout)["tasks_created"]
    assert created > 0 and len(received) == created
    assert {n.event for n in received} == {"handoff_created"} and len({n.key for n in received}) == created

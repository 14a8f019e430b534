"""`leadsync connections list | check | setup`."""

from __future__ import annotations

import click
from leadsync.connectors.base import Capability, CheckResult, Connector
from leadsync.core.cli.app import App, pass_app
from leadsync.core.cli.output import echo_json, print_table
from leadsync.core.errors import ConnectionFailed
from leadsync.core.handoff import OwnerDirectory, configured_owners
from leadsync.core.sync.connections import open_connection

__all__ = ["connections"]


@click.group()
def connections() -> None:
    """Configured connections: list them, check them, set them up."""


def _masked(table: dict) -> dict:
    secret_words = ("token", "secret", "password", "key", "private")
    return {k: ("********" if any(w in k.lower() for w in secret_words) and k != "plugin" else v) for k, v in table.items()}


@connections.command("list")
@click.option("--json", "as_json", is_flag=True)
@pass_app
def list_connections(app: App, as_json: bool) -> None:
    """Every configured connection with its plugin and roles (secrets masked)."""
    rows = [{"name": name, **_masked(table)} for name, table in app.settings.connections.items()]
    if as_json:
        echo_json(rows)
        return
    print_table("Connections", ["name", "plugin", "roles", "base_url / path"],
                [(r["name"], r.get("plugin"), ", ".join(r.get("roles") or []), r.get("base_url") or r.get("path"))
                 for r in rows])


@connections.command("check")
@click.argument("name", required=False)
@click.option("--json", "as_json", is_flag=True)
@pass_app
def check(app: App, name: str | None, as_json: bool) -> None:
    """Credentials, permissions and required custom fields; exit 4 when one fails."""
    names = [name] if name else list(app.settings.connections)
    report, ok = [], True
    for conn in names:
        connector = open_connection(app.settings, app.host, conn)
        try:
            result = connector.check()
            if result.ok and Capability.TASKS in connector.roles():
                _check_owners(app, connector, result)
        except Exception as exc:
            result_ok, items = False, [("connection", False, f"{type(exc).__name__}: {exc}")]
        else:
            result_ok, items = result.ok, result.items
        finally:
            connector.close()
        ok = ok and result_ok
        report.append({"name": conn, "ok": result_ok, "checks": [{"what": w, "ok": o, "detail": d} for w, o, d in items]})
    if as_json:
        echo_json(report)
    else:
        print_table("Connection checks", ["connection", "check", "result", "detail"],
                    [(r["name"], c["what"], "ok" if c["ok"] else "FAILED", c["detail"]) for r in report for c in r["checks"]])
    if not ok:
        raise ConnectionFailed("some connection checks failed")


def _check_owners(app: App, connector: Connector, result: CheckResult) -> None:
    """One line per rep the handoff settings name: the CRM's id, or why a task could not go there."""
    named = configured_owners(app.settings.handoff)
    if not named:
        return
    directory = OwnerDirectory(connector, named)
    for ref, keys in directory.keys.items():
        owner = directory.get(ref)
        where = ", ".join(keys)
        if owner.usable:
            result.add(f"owner {ref}", True, f"{owner.id}" + (f" ({owner.name})" if owner.name else ""))
        else:
            result.add(f"owner {ref}", False, f"{directory.describe(owner)} ({where})")


@connections.command("setup")
@click.argument("name")
@pass_app
def setup(app: App, name: str) -> None:
    """Create the custom fields a connection needs, or print how to."""
    connector = open_connection(app.settings, app.host, name)
    try:
        for line in connector.setup() or ["nothing to set up"]:
            click.echo(line)
    finally:
        connector.close()


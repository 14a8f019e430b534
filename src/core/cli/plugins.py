"""`leadsync plugins list | install | uninstall`: the same Python's pip, never a second environment."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import click

from leadsync.connectors.plugins import BUILTIN_PLUGINS
from leadsync.core.cli.app import App, pass_app
from leadsync.core.cli.output import echo_json, print_table

__all__ = ["plugins"]

# plugins/<vendor> beside this checkout, when leadsync runs from one.
CHECKOUT_PLUGINS = Path(__file__).resolve().parents[3] / "plugins"


@click.group()
def plugins() -> None:
    """Installed plugins, and installing vendor plugins."""


def _hooks_of(app: App, plugin: object) -> list[str]:
    return sorted(caller.name for caller in app.host.pm.get_hookcallers(plugin) or [])


@plugins.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--requirements", is_flag=True, help="Print name==version lines for pinning a deployment.")
@pass_app
def list_plugins(app: App, as_json: bool, requirements: bool) -> None:
    """Plugins, their versions, connectors and hooks; broken plugins with their error."""
    from leadsync import __version__

    builtin = {name.rsplit(".", 1)[-1] for name in BUILTIN_PLUGINS}
    rows = []
    for name, plugin in sorted(app.host.pm.list_name_plugin(), key=lambda item: item[0]):
        dist, version = app.host.dists.get(name, ("leadsync (built-in)" if name in builtin else name, __version__))
        rows.append({"name": name, "distribution": dist, "version": version, "builtin": name in builtin,
                     "connectors": app.host.connectors_of(plugin), "hooks": _hooks_of(app, plugin), "error": None})
    for failure in app.host.failures:
        dist, version = app.host.dists.get(failure.name, (None, None))
        rows.append({"name": failure.name, "distribution": dist, "version": version, "builtin": False,
                     "connectors": [], "hooks": [], "error": failure.error})
    if requirements:
        for row in rows:
            if not row["builtin"] and row["version"]:
                click.echo(f"{row['distribution']}=={row['version']}")
        return
    if as_json:
        echo_json(rows)
        return
    print_table("Plugins", ["name", "version", "connectors", "hooks", "status"], [
        (r["name"], r["version"] or "unknown", ", ".join(r["connectors"]), ", ".join(r["hooks"]),
         ("built-in" if r["builtin"] else "ok") if not r["error"] else f"FAILED: {r['error']}")
        for r in rows
    ])


def _requirement(name: str) -> str:
    """A bare vendor name means leadsync-<name>: from this checkout's plugins/ folder if there is one."""
    if "/" in name or name.startswith(".") or any(c in name for c in "=<>[@") or name.startswith("leadsync-"):
        return name
    local = CHECKOUT_PLUGINS / name
    if (local / "pyproject.toml").exists():
        return str(local)
    return f"leadsync-{name}"


def _pip(*args: str) -> None:
    command = [sys.executable, "-m", "pip", *args]
    click.echo("$ " + " ".join(command), err=True)
    result = subprocess.run(command, check=False)
    if result.returncode != 0:
        raise click.ClickException(f"pip exited with status {result.returncode}")


@plugins.command("install")
@click.argument("names", nargs=-1, required=True)
@click.option("-U", "--upgrade", is_flag=True, help="Upgrade if already installed.")
@click.option("-e", "--editable", is_flag=True, help="Install a local path in editable mode.")
def install(names: tuple[str, ...], upgrade: bool, editable: bool) -> None:
    """Install vendor plugins: a vendor name (hubspot), a path, or a requirement spec."""
    args = ["install"] + (["--upgrade"] if upgrade else [])
    for name in names:
        requirement = _requirement(name)
        args += ["-e", requirement] if editable or (Path(requirement).exists() and requirement != name) else [requirement]
    _pip(*args)


@plugins.command("uninstall")
@click.argument("names", nargs=-1, required=True)
def uninstall(names: tuple[str, ...]) -> None:
    """Remove vendor plugins by vendor or distribution name."""
    _pip("uninstall", "-y", *(n if n.startswith("leadsync-") else f"leadsync-{n}" for n in names))

"""`leadsync projects list`: the projects of the state database with their last run."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import click

from leadsync.core.cli.app import App, pass_app
from leadsync.core.cli.output import echo_json, print_table
from leadsync.core.state.projects import COUNTS, list_projects

__all__ = ["projects"]


def _when(epoch: float | None) -> str:
    return "-" if epoch is None else datetime.fromtimestamp(epoch, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def _iso(epoch: float | None) -> str | None:
    return None if epoch is None else datetime.fromtimestamp(epoch, tz=timezone.utc).isoformat()


@click.group()
def projects() -> None:
    """Projects sharing the state database ([state] url and project; docs/operations.md)."""


@projects.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON object on stdout.")
@pass_app
def list_command(app: App, as_json: bool) -> None:
    """Every project in the database with its last run: status, start, end and counts.

    With the SQLite store, the one project of this configuration.
    """
    target = app.settings.state_target
    found = list_projects(target)
    if as_json:
        rows: list[dict[str, Any]] = []
        for item in found:
            run = item["last_run"]
            if run is not None:
                run = {**run, "started_at": _iso(run["started_at"]), "finished_at": _iso(run["finished_at"])}
            rows.append({**item, "last_run": run, "current": item["project"] == target.project})
        echo_json({"backend": "postgresql" if target.is_postgres else "sqlite", "store": target.describe(),
                   "projects": rows})
        return
    table = []
    for item in found:
        run = item["last_run"] or {}
        counts = run.get("counts") or {}
        table.append([
            item["project"] + (" *" if item["project"] == target.project else ""),
            "running" if item["running"] else "-" if item["running"] is not None else "",
            f"{run['id']}: {run['status']}" if run else "no run yet",
            _when(run.get("started_at")), _when(run.get("finished_at")),
            ", ".join(f"{name} {counts[name]}" for name in COUNTS if name in counts),
        ])
    print_table(f"Projects in {target.describe()} (* this configuration)",
                ["project", "lock", "last run", "started", "finished", "counts"], table)

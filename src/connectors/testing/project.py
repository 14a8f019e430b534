"""A throwaway leadsync project for end-to-end tests: demo MA export, default sheet, your CRM.

    project = demo_project(tmp_path, {"plugin": "hubspot", "base_url": server.url, "token": "t"})
    summary = project.run()           # `leadsync sync run --json`, parsed
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib import resources
from pathlib import Path
from typing import Any

from leadsync.core.demo import generate_demo, write_demo

__all__ = ["DemoProject", "demo_project", "generate_demo", "toml_table"]


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return json.dumps(str(value), ensure_ascii=False)  # a JSON string is a valid TOML basic string


def toml_table(name: str, values: Mapping[str, Any]) -> str:
    """One TOML table of scalar and list values."""
    lines = [f"[{name}]"] + [f"{key} = {_toml_value(value)}" for key, value in values.items()]
    return "\n".join(lines) + "\n"


@dataclass
class DemoProject:
    folder: Path
    anchor: datetime

    @property
    def config_path(self) -> Path:
        return self.folder / "leadsync.toml"

    def invoke(self, *args: str, env: Mapping[str, str] | None = None) -> Any:
        """Run a leadsync command in-process (click's CliRunner) with this project's config; `env`
        sets environment variables for the command."""
        from click.testing import CliRunner

        from leadsync.core.cli.main import cli

        return CliRunner().invoke(cli, ["--config", str(self.config_path), *args], env=env, catch_exceptions=False)

    def preview(self, as_of: datetime, *, pull: bool = False, env: Mapping[str, str] | None = None) -> dict[str, Any]:
        """`leadsync handoff preview --format json --as-of AS_OF`, from the state as stored (or, with
        `pull`, pulled and scored first): the plans by lead key."""
        result = self.invoke("handoff", "preview", "--pull" if pull else "--no-pull", "--format", "json",
                             "--as-of", as_of.isoformat(), env=env)
        assert result.exit_code == 0, result.output
        return {plan["lead_key"]: plan for plan in json.loads(result.stdout)}

    def run(self, *args: str) -> dict[str, Any]:
        """`leadsync sync run --json [args]`, its summary parsed; the exit status is in it."""
        result = self.invoke("sync", "run", "--json", *args)
        summary = json.loads(result.stdout)
        assert summary["exit_status"] == result.exit_code
        return summary


def demo_project(
    folder: Path,
    crm: Mapping[str, Any] | None,
    *,
    anchor: datetime | None = None,
    leads: int = 300,
    activities: int = 5000,
    owners: Sequence[str] = ("sato", "suzuki"),
    ma_roles: Sequence[str] = ("leads", "activities"),
    extra: str = "",
) -> DemoProject:
    """Write a project into `folder`: the demo leads as a file-connector MA (`ma`), the default
    scoring sheet, and `crm` as the `[connections.crm]` table (None: no CRM)."""
    anchor = anchor or datetime.now(timezone.utc).replace(microsecond=0)
    folder.mkdir(parents=True, exist_ok=True)
    write_demo(folder / "data", anchor, leads=leads, activities=activities, sales=False)
    sheet = resources.files("leadsync.core").joinpath("data", "scoring-sheet.csv").read_bytes()
    (folder / "scoring-sheet.csv").write_bytes(sheet)
    parts = [
        toml_table("state", {"path": "state/state.db"}),
        toml_table("scoring", {"sheet": "scoring-sheet.csv"}),
        toml_table("handoff", {"owners": list(owners)}),
        toml_table("connections.ma", {"plugin": "file", "path": "data", "output": "out", "roles": list(ma_roles)}),
    ]
    if crm is not None:
        parts.append(toml_table("connections.crm", dict(crm)))
    (folder / "leadsync.toml").write_text("\n".join(parts) + extra, encoding="utf-8")
    return DemoProject(folder, anchor)

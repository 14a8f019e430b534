"""`handoff preview`: what the next run would hand to sales, computed on a copy of the state."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from datetime import datetime
from typing import IO, Any

from rich.console import Console
from rich.table import Table

from leadsync.connectors.spreadsheet import safe_row
from leadsync.core.config import Settings
from leadsync.core.handoff.episodes import update_episodes
from leadsync.core.handoff.planning import HandoffPlan, plan_handoffs, resolve_task_connection
from leadsync.core.handoff.text import format_points
from leadsync.core.state.store import StateStore

__all__ = ["CSV_COLUMNS", "FORMATS", "plans_csv", "preview_json", "preview_plans", "render_plans"]

FORMATS = ("table", "json", "csv")
CSV_COLUMNS = (
    "email", "name", "company", "score", "segment", "owner", "due_at", "action", "connection", "reasons", "detail",
)
_BOM = "\ufeff"


def preview_plans(app_or_settings: Any, store_snapshot: StateStore, as_of: datetime, host: Any) -> list[HandoffPlan]:
    """The plans of the next run: episodes brought up to date, then planned, on `store_snapshot`.

    Pass an in-memory copy (`store.snapshot()`): episode updates are applied to it, never to
    the real store, and no hook is notified.
    """
    settings: Settings = getattr(app_or_settings, "settings", app_or_settings)
    update_episodes(store_snapshot, settings, as_of, host, (), notify=False)
    return plan_handoffs(store_snapshot, settings, as_of, host, task_connection=resolve_task_connection(settings))


def _reasons_text(plan: HandoffPlan, limit: int | None = None) -> str:
    reasons = plan.reasons if limit is None else plan.reasons[:limit]
    return "; ".join(f"{r['rule']} {format_points(float(r['points']))}" for r in reasons)


def plans_csv(plans: Sequence[HandoffPlan]) -> str:
    """CSV for Excel: UTF-8 with a BOM and CRLF line ends (the caller writes it as UTF-8).

    Meant for people: a cell that a spreadsheet would run as a formula is neutralised
    (`leadsync.connectors.spreadsheet`); numbers, negative ones included, stay numbers.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for plan in plans:
        data = plan.to_json()
        writer.writerow(safe_row([
            data["email"] or "", data["name"] or "", data["company"] or "", data["score"], data["segment"],
            data["owner"] or "", data["due_at"] or "", data["action"], data["connection"] or "",
            _reasons_text(plan), data["detail"] or "",
        ]))
    return _BOM + buffer.getvalue()


def preview_json(plan: HandoffPlan, *, score_max: float | None = None, task_keys: bool = False) -> dict[str, Any]:
    """One plan as the preview's JSON shows it.

    `task_key` is included only with `task_keys` (the preview was given --as-of): a task's key is
    derived from the lead and the moment its episode opens, so only a run at that same moment
    (`sync run --as-of` with the same value) uses it; a later run's key differs.
    """
    data = plan.to_json()
    if not task_keys:
        del data["task_key"]
    if score_max is not None:
        items = list(data.items())
        at = [k for k, _ in items].index("score") + 1
        data = dict([*items[:at], ("score_max", _number(score_max)), *items[at:]])
    return data


def _number(value: float) -> int | float:
    return int(value) if float(value).is_integer() else value


def render_plans(
    plans: Sequence[HandoffPlan], fmt: str, out: IO[str], *, score_max: float | None = None, task_keys: bool = False
) -> None:
    """Write the plans to `out` as a table, JSON (a list of objects) or Excel-friendly CSV.

    `score_max` (the sheet's highest possible total) is shown next to each score; `task_keys`:
    see `preview_json`.
    """
    if fmt == "json":
        data = [preview_json(plan, score_max=score_max, task_keys=task_keys) for plan in plans]
        out.write(json.dumps(data, ensure_ascii=False, indent=2) + "\n")
    elif fmt == "csv":
        out.write(plans_csv(plans))
    elif fmt == "table":
        _render_table(plans, out, score_max)
    else:
        raise ValueError(f"unknown format {fmt!r} (expected one of {', '.join(FORMATS)})")


def _render_table(plans: Sequence[HandoffPlan], out: IO[str], score_max: float | None = None) -> None:
    """A table that fits the terminal (rich's console width): narrow terminals drop the name and
    the reasons columns (the JSON and CSV formats keep everything) and long cells wrap."""
    width = Console().width
    columns = ["email", "name", "company", "score", "owner", "due", "action", "top reasons"]
    if width < 140:
        columns.remove("top reasons")
    if width < 110:
        columns.remove("name")
    table = Table(title=f"Handoff preview: {sum(p.action == 'create_task' for p in plans)} task(s) of {len(plans)} hot lead(s)")
    for column in columns:
        table.add_column(column, overflow="fold")
    for plan in plans:
        cells = {
            "email": plan.email or plan.lead_key, "name": plan.name, "company": plan.company or "",
            "score": f"{plan.score}/{_number(score_max)}" if score_max is not None else str(plan.score), "owner": plan.owner or "",
            "due": plan.due_at.strftime("%Y-%m-%d %H:%M") if plan.due_at else "", "action": plan.action,
            "top reasons": _reasons_text(plan, 3),
        }
        table.add_row(*(cells[c] for c in columns))
    Console(file=out, soft_wrap=False, width=width).print(table)

"""`leadsync handoff preview|status`: what the next run would hand to sales, and how it went."""

from __future__ import annotations

import io
import sys
from datetime import datetime, timezone
from pathlib import Path

import click

from leadsync.core.cli.app import App, as_of_option, pass_app
from leadsync.core.cli.output import echo_json
from leadsync.core.handoff import HandoffPlan, notify_overdue, preview_plans, render_plans
from leadsync.core.reports.handoff_status import handoff_status
from leadsync.core.state.rewind import rewind

__all__ = ["handoff", "wide_table"]


def wide_table(title: str | None, columns: list[str], rows: list[list[object]]) -> None:
    """A rich table that is not squeezed to 80 columns when stdout is a pipe or a file."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title)
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*("" if cell is None else str(cell) for cell in row))
    console = Console(soft_wrap=False)
    console.width = max(console.width, 160)
    console.print(table)


def _short(iso: str | None) -> str:
    """'2026-11-24T18:00:00+09:00' -> '2026-11-24 18:00' (the table shows the calendar's zone)."""
    return iso[:16].replace("T", " ") if iso else ""


@click.group("handoff")
def handoff() -> None:
    """Preview and follow MQL handoffs (hot leads handed to sales as tasks)."""


@handoff.command("preview")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv"]), default="table", show_default=True)
@click.option("--excel", is_flag=True, help="CSV for Excel (UTF-8 with BOM); the same as --format csv.")
@click.option("--output", "-o", "output", type=click.Path(dir_okay=False, path_type=Path), help="Write to this file.")
@click.option("--pull/--no-pull", default=True, show_default=True,
              help="Pull and rescore first, as `sync run --dry-run` does; --no-pull plans from the state as stored.")
@as_of_option
@pass_app
def preview(app: App, fmt: str, excel: bool, output: Path | None, pull: bool, as_of: str | None) -> None:
    """Show every handoff the next run would make, writing nothing."""
    moment = app.now(as_of)
    plans = _plans_after_dry_run(app, moment) if pull else _plans_from_state(app, moment)
    fmt = "csv" if excel else fmt
    buffer = io.StringIO()
    render_plans(plans, fmt, buffer, score_max=_score_max(app), task_keys=as_of is not None)
    data = buffer.getvalue().encode("utf-8")
    if output is not None:
        output.write_bytes(data)
        click.echo(f"wrote {len(plans)} handoff(s) to {output}", err=True)
        return
    sys.stdout.flush()
    sys.stdout.buffer.write(data)
    sys.stdout.buffer.flush()


def _score_max(app: App) -> float | None:
    """The configured sheet's highest possible total, shown next to each score."""
    from leadsync.core.scoring import load_configured_sheet

    return load_configured_sheet(app.settings, app.host).max_total


def _plans_from_state(app: App, moment: datetime) -> list[HandoffPlan]:
    store = app.open_store(readonly=True)
    snapshot = store.snapshot()
    if moment < datetime.now(timezone.utc):  # --as-of in the past: a replay of what was known then
        from leadsync.core.scoring import load_configured_sheet, rescore

        if rewind(snapshot, moment):
            rescore(snapshot, load_configured_sheet(app.settings, app.host), app.settings.scoring, moment)
    try:
        return preview_plans(app, snapshot, moment, app.host)
    finally:
        snapshot.close()


def _plans_after_dry_run(app: App, moment: datetime) -> list[HandoffPlan]:
    """The plans of a dry run: pull, score and plan on an in-memory copy; no write anywhere."""
    from leadsync.core.sync.engine import RunOptions, run_sync

    summary = run_sync(app.settings, app.host, RunOptions(as_of=moment, dry_run=True))
    for name, error in summary.failures.items():
        click.echo(f"warning: {name} could not be read, its data is as last stored: {error}", err=True)
    return list(summary.handoffs)


@handoff.command("status")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.option("--notify/--no-notify", default=False, show_default=True,
              help="Also call the handoff_overdue hook for newly overdue handoffs and record that (once each); "
                   "without it the command is a report and changes nothing.")
@as_of_option
@pass_app
def status(app: App, fmt: str, notify: bool, as_of: str | None) -> None:
    """Open and overdue handoffs, and the time to first touch (read-only unless --notify)."""
    moment = app.now(as_of)
    store = app.open_store(readonly=not notify)
    if notify:
        notify_overdue(store, moment, app.host)
    report = handoff_status(store, app.settings, moment)
    if fmt == "json":
        echo_json(report)
        return
    touch = report["first_touch"]
    click.echo(
        f"open {report['open']}, overdue {report['overdue']}, handoffs {report['handoffs']}; "
        f"first touch: {touch['touched']} (within SLA {touch['within_sla']}), "
        + (f"median {touch['median_hours']} h / {touch['median_business_hours']} business h"
           if touch["median_hours"] is not None else "median - (no first touch yet)")
    )
    wide_table(
        "Open handoffs",
        ["email", "company", "owner", "score", "opened", "due", "first touch", "overdue"],
        [
            [r["email"] or r["lead_key"], r["company"], r["owner"], r["score"], _short(r["opened_at"]), _short(r["due_at"]),
             _short(r["first_touch_at"]), "OVERDUE" if r["overdue"] else ""]
            for r in report["open_handoffs"]
        ],
    )

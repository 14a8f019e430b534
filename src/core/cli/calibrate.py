"""`leadsync score calibrate`: the scoring sheet's rows against the outcomes sales reached."""

from __future__ import annotations

import click

from leadsync.core.cli.app import App, pass_app
from leadsync.core.cli.handoff import wide_table
from leadsync.core.cli.kpi import FORMAT, pct, write_csv
from leadsync.core.cli.output import echo_json

__all__ = ["OUTCOME", "calibrate"]

OUTCOME = click.Choice(["meeting", "opportunity", "won"])


@click.command("calibrate")
@click.option("--outcome", type=OUTCOME, default="meeting", show_default=True,
              help="What counts as converted: a meeting booked, an opportunity, a win.")
@click.option("--min-leads", type=click.IntRange(min=1), default=20, show_default=True,
              help="Rows that fired for fewer leads keep their points.")
@click.option("--format", "fmt", type=FORMAT, default="table", show_default=True, help="Output format.")
@pass_app
def calibrate(app: App, outcome: str, min_leads: int, fmt: str) -> None:
    """Per sheet row: leads it fired for, their conversion against the rest (lift), suggested points."""
    from leadsync.core.reports.kpi import build_calibration
    from leadsync.core.scoring import load_configured_sheet

    sheet = load_configured_sheet(app.settings, app.host)
    data = build_calibration(app.open_store(readonly=True), sheet, outcome, min_leads=min_leads)
    if fmt == "json":
        echo_json(data)
        return
    columns = ["rule", "group", "points", "leads", "converted", "rate", "rest_rate", "lift", "suggested_points", "note"]
    if fmt == "csv":
        write_csv(columns, [[r[c] for c in columns] for r in data["rules"]])
        return
    click.echo(f"outcome {outcome}: {data['converted']} of {data['leads']} scored leads ({pct(data['base_rate'])})")
    wide_table("Sheet rows", columns, [
        [r["rule"], r["group"], f"{r['points']:g}", r["leads"], r["converted"], pct(r["rate"]), pct(r["rest_rate"]),
         "-" if r["lift"] is None else f"{r['lift']:.2f}", f"{r['suggested_points']:g}", r["note"]]
        for r in data["rules"]])

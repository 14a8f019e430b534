"""`leadsync report html -o report.html`: the KPI dashboard as one self-contained file."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import click

from leadsync.core.cli.app import App, as_of_option, pass_app
from leadsync.core.cli.kpi import resolve_period

__all__ = ["html"]


@click.command("html")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="The HTML file to write.")
@click.option("--from", "from_date", type=click.DateTime(["%Y-%m-%d"]), metavar="DATE", help="First day, inclusive.")
@click.option("--to", "to_date", type=click.DateTime(["%Y-%m-%d"]), metavar="DATE", help="Last day, inclusive.")
@as_of_option
@pass_app
def html(app: App, output: Path, from_date: Any, to_date: Any, as_of: str | None) -> None:
    """Funnel, call-timing heat map, handoff SLA, score distribution and feedback by rule, as charts."""
    from leadsync.core.reports.feedback import feedback_report
    from leadsync.core.reports.handoff_status import handoff_status
    from leadsync.core.reports.html import render_html
    from leadsync.core.reports.kpi import build_call_timing, build_funnel
    from leadsync.core.state.kpi import score_histogram

    period = resolve_period(app, from_date, to_date, as_of)
    store = app.open_store(readonly=True)
    settings = app.settings
    page = render_html(
        funnel=build_funnel(store, settings, period, None),
        timing=build_call_timing(store, settings, period),
        status=handoff_status(store, settings, app.now(as_of)),
        histogram=score_histogram(store.db),
        feedback=feedback_report(store, timezone=settings.scoring.timezone),
        title="leadsync インサイドセールスKPI",
    )
    temp = output.with_name(f".{output.name}.tmp")
    temp.write_text(page, encoding="utf-8")
    os.replace(temp, output)
    click.echo(f"wrote {output} ({len(page.encode('utf-8')):,} bytes)")

"""`leadsync report feedback`: sales rejections and reasons, by lead source and by scoring rule."""

from __future__ import annotations

import click

from leadsync.core.cli.app import App, pass_app
from leadsync.core.cli.handoff import wide_table
from leadsync.core.cli.output import echo_json
from leadsync.core.normalize import lead_source_label, parse_datetime
from leadsync.core.reports.feedback import feedback_report

__all__ = ["report"]


@click.group("report")
def report() -> None:
    """Reports for marketing and sales."""


@report.command("feedback")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.option("--since", metavar="DATE", help="Only handoffs opened at or after this date (ISO 8601).")
@pass_app
def feedback(app: App, fmt: str, since: str | None) -> None:
    """Sales rejections and their reasons, by lead source and by the rules that made the MQL."""
    tz = app.settings.scoring.timezone
    language = app.settings.handoff.language
    try:
        since_at = parse_datetime(since, tz) if since else None
    except ValueError:
        raise click.BadParameter(f"{since!r} is not an ISO 8601 date", param_hint="--since") from None
    store = app.open_store(readonly=True)
    data = feedback_report(store, since=since_at, timezone=tz)
    if fmt == "json":
        echo_json(data)
        return
    click.echo(f"handoffs {data['handoffs']}, rejected {data['rejected']} ({data['rejection_rate']:.0%})")
    wide_table("Rejection reasons", ["reason", "count"], [[r["reason"], r["count"]] for r in data["by_reason"]])
    wide_table(
        "By lead source",
        ["lead source", "MQLs", "rejected", "rate", "top reason"],
        [[lead_source_label(s["lead_source"], language), s["mqls"], s["rejected"], f"{s['rejection_rate']:.0%}",
          s["reasons"][0]["reason"] if s["reasons"] else ""] for s in data["by_source"]],
    )
    wide_table(
        "By scoring rule",
        ["rule", "points", "MQLs", "rejected", "rejection rate", "share of rejections"],
        [[r["rule"], ",".join(f"{p:+g}" for p in r["points"]), r["mqls"], r["rejected"],
          f"{r['rejection_rate']:.0%}", f"{r['share_of_rejections']:.0%}"] for r in data["by_rule"]],
    )

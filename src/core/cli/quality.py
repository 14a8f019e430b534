"""`leadsync report quality` and `leadsync quality release EMAIL`: the data-quality gate."""

from __future__ import annotations

import csv
import getpass
import io
import sys
from datetime import datetime, timezone

import click

from leadsync.connectors.spreadsheet import safe_row
from leadsync.core.cli.app import App, pass_app
from leadsync.core.cli.handoff import wide_table
from leadsync.core.cli.output import echo_json
from leadsync.core.cli.report import report
from leadsync.core.quality import quality_report, release_lead

__all__ = ["quality"]


@report.command("quality")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv"]), default="table", show_default=True)
@pass_app
def quality_command(app: App, fmt: str) -> None:
    """Data-quality findings: counts by rule and by lead source, and the leads with their rules."""
    store = app.open_store(readonly=True)
    data = quality_report(store.db, app.settings.quality)
    if fmt == "json":
        echo_json(data)
        return
    if fmt == "csv":  # for Excel: UTF-8 with a BOM, CRLF, formulas neutralised
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\r\n")
        writer.writerow(["email", "name", "company", "lead_source", "action", "rules", "details"])
        for lead in data["leads"]:
            writer.writerow(safe_row([lead["email"], lead["name"], lead["company"] or "", lead["lead_source"] or "",
                                      lead["action"], " ".join(lead["rules"]),
                                      "; ".join(d["detail"] for d in lead["details"])]))
        sys.stdout.buffer.write(("\ufeff" + buffer.getvalue()).encode("utf-8"))
        sys.stdout.flush()
        return
    wide_table("By rule", ["rule", "action", "leads"], [[r["rule"], r["action"], r["leads"]] for r in data["rules"]])
    wide_table("By lead source", ["lead source", "leads", "quarantined", "released", "warned"],
               [[s["lead_source"] or "(none)", s["leads"], s["quarantined"], s["released"], s["warned"]]
                for s in data["sources"]])
    wide_table("Leads", ["email", "company", "action", "rules"],
               [[lead["email"], lead["company"], lead["action"], "; ".join(f"{d['rule']}: {d['detail']}"
                                                                         for d in lead["details"])]
                for lead in data["leads"]])


@click.group("quality")
def quality() -> None:
    """The data-quality gate (see `leadsync report quality`)."""


@quality.command("release")
@click.argument("email")
@click.option("--by", "by", metavar="NAME", help="Who releases it (default: the login name).")
@click.option("--note", metavar="TEXT", help="Why, for the record.")
@pass_app
def release_command(app: App, email: str, by: str | None, note: str | None) -> None:
    """Let a quarantined lead through the gate; the next run hands it off. Recorded with who and when."""
    who = by or _login()
    store = app.open_store()
    with store.transaction() as db:
        lead, verdict = release_lead(db, app.settings.quality, email, by=who, note=note)
    assert verdict.release is not None
    at = datetime.fromtimestamp(verdict.release.released_at, tz=timezone.utc).isoformat(timespec="seconds")
    click.echo(f"released {lead.email or lead.key} ({', '.join(verdict.release.rules)}) by {who} at {at}; "
               "the next `leadsync sync run` hands it off if it is still hot")


def _login() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no login name (a container without USER)
        return "unknown"

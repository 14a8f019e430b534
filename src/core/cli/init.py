"""`leadsync init [DIR] [--demo] [--force]`: a starter config and scoring sheet, and demo data."""

from __future__ import annotations

import re

from datetime import datetime, timezone
from importlib import resources
from pathlib import Path

import click

__all__ = ["CONFIG_TEMPLATE", "DEMO_CONNECTION", "DEMO_OWNERS", "init", "render_config"]

DEMO_OWNERS = ["sato", "suzuki", "tanaka"]

CONFIG_TEMPLATE = """\
# leadsync configuration. Every key can be overridden by an environment variable:
# LEADSYNC_<SECTION>__<KEY>, for example LEADSYNC_HANDOFF__COOLDOWN_DAYS=14 or
# LEADSYNC_CONNECTIONS__CRM__TOKEN=... (secrets belong in the environment, .env or
# LEADSYNC_SECRETS_DIR, not in this file). Relative paths are relative to this file's folder.
# Reference: docs/configuration.md

[state]
path = ".leadsync/state.db"           # embedded SQLite: cursors, scores, handoffs, outbox
# A PostgreSQL database many projects share, instead of the file (docs/operations.md):
# url = "postgresql://leadsync@db.example.com:5432/leadsync"
# project = "acme"                    # this project's name in that database (default: from this folder)

[scoring]
sheet = "scoring-sheet.csv"           # the scoring sheet marketing and sales agreed on
window_days = 90                      # behaviour older than this does not count
timezone = "Asia/Tokyo"               # times without an offset are read in this zone
# pricing_url_patterns = ["*/pricing*", "*/price*", "*/plans*", "*/plan/*", "*料金*"]
# half_life_days = 30                 # uncomment to let behaviour points decay with age

[handoff]
sla_business_hours = 9                # due date: one business day of 09:00-18:00
business_hours = "09:00-18:00"
workdays = "mon-fri"
holidays = "JP"                       # national holidays of Japan are closed days
closed_dates = ["12-29", "12-30", "12-31", "01-02", "01-03"]
cooldown_days = 30                    # no second task for the same lead within this time
owners = {owners}   # round robin for hot leads with no owner
language = "ja"                       # task subject and body: "ja" or "en"

[sync]
lookback_minutes = 5                  # overlap re-read behind each cursor
{connections}"""

DEMO_CONNECTION = """
# The bundled demo: the built-in file connector reads data/leads.csv and data/activities.csv
# and writes out/scores.csv and out/tasks.csv (UTF-8 with BOM, so Excel shows Japanese).
[connections.demo]
plugin = "file"
path = "data"
output = "out"
roles = ["leads", "activities", "scores", "tasks"]
"""

EXAMPLE_CONNECTIONS = """
# Connections: one table per system. Uncomment and fill in what you use, then run
# `leadsync connections check`. Vendor plugins: `leadsync plugins install hubspot`.
#
# [connections.sheet]                 # CSV exports: see docs/file-connector.md
# plugin = "file"
# path = "exports"                    # folder holding leads.csv and activities.csv
# output = "out"                      # folder where scores.csv and tasks.csv are written
# roles = ["leads", "activities", "scores", "tasks"]
#
# [connections.crm]
# plugin = "hubspot"
# token = "..."                       # better: LEADSYNC_CONNECTIONS__CRM__TOKEN
# roles = ["leads", "activities", "scores", "tasks"]
#
# [connections.ma]
# plugin = "marketo"
# base_url = "https://123-ABC-456.mktorest.com"
# client_id = "..."
# client_secret = "..."               # better: LEADSYNC_CONNECTIONS__MA__CLIENT_SECRET
# roles = ["leads", "activities", "scores"]
"""


def render_config(*, demo: bool) -> str:
    """The text of a starter leadsync.toml; with `demo`, one file connection on the demo data."""
    owners = "[" + ", ".join(f'"{o}"' for o in DEMO_OWNERS) + "]" if demo else "[]"
    text = CONFIG_TEMPLATE.format(owners=owners, connections=DEMO_CONNECTION if demo else EXAMPLE_CONNECTIONS)
    return "\n".join(_align_comment(line) for line in text.split("\n"))


_INLINE_COMMENT = re.compile(r"^(?P<code>#? ?[^#\s][^#]*?)\s+(?P<comment>#\s.*)$")
COMMENT_COLUMN = 40


def _align_comment(line: str) -> str:
    """`key = value  # comment` with the comment starting at COMMENT_COLUMN (or 2 spaces after
    a longer value), so the starter file reads as one column whatever the values are."""
    match = _INLINE_COMMENT.match(line)
    if not match:
        return line
    code = match.group("code")
    return code.ljust(max(COMMENT_COLUMN, len(code) + 2)) + match.group("comment")


class _WouldOverwrite(click.ClickException):
    exit_code = 2


def _default_sheet() -> bytes:
    return resources.files("leadsync.core").joinpath("data", "scoring-sheet.csv").read_bytes()


@click.command("init")
@click.argument("directory", required=False, default=".", type=click.Path(file_okay=False, path_type=Path))
@click.option("--demo", is_flag=True, help="Add a file connection and sample data (300 leads, 90 days of activity and inside sales).")
@click.option("--force", is_flag=True, help="Overwrite files that already exist.")
def init(directory: Path, demo: bool, force: bool) -> None:
    """Write a starter leadsync.toml and scoring-sheet.csv into DIRECTORY (default: here)."""
    config, sheet = directory / "leadsync.toml", directory / "scoring-sheet.csv"
    data = directory / "data"
    targets = [config, sheet] + ([data / "leads.csv", data / "activities.csv", data / "opportunities.csv"] if demo else [])
    if not force:
        for target in targets:
            if target.exists():
                raise _WouldOverwrite(f"{target} already exists; use --force to overwrite it")
    directory.mkdir(parents=True, exist_ok=True)
    config.write_text(render_config(demo=demo), encoding="utf-8")
    sheet.write_bytes(_default_sheet())
    click.echo(f"Wrote {config}")
    click.echo(f"Wrote {sheet}")
    if demo:
        from leadsync.core.demo import write_demo

        anchor = datetime.now(timezone.utc).replace(second=0, microsecond=0)
        generated = write_demo(data, anchor)
        (directory / "out").mkdir(exist_ok=True)
        click.echo(f"Wrote {data / 'leads.csv'} ({len(generated.leads)} leads)")
        click.echo(f"Wrote {data / 'activities.csv'} ({len(generated.activities)} activities over 90 days)")
    where = "" if directory.resolve() == Path.cwd().resolve() else f"  cd {directory}\n"
    click.echo("\nNext steps:")
    if demo:
        click.echo(
            f"{where}"
            "  leadsync connections check         # the demo connection is ready\n"
            "  leadsync handoff preview           # hot leads and the tasks the next run would create\n"
            "  leadsync sync run                  # pull, score, hand off; writes out/scores.csv, out/tasks.csv\n"
            "  leadsync score explain EMAIL       # why a lead has its score\n"
            "Schedule it with cron, for example every 15 minutes:\n"
            f"  */15 * * * * cd {directory.resolve()} && leadsync sync run --quiet"
        )
    else:
        click.echo(
            f"{where}"
            "  edit leadsync.toml: add your connections (docs/configuration.md)\n"
            "  edit scoring-sheet.csv with marketing and sales (docs/scoring.md)\n"
            "  leadsync connections check\n"
            "  leadsync handoff preview\n"
            "  leadsync sync run"
        )

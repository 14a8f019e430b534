"""`leadsync sync run | status | requeue`."""

from __future__ import annotations

import json
import logging
import sys
from contextlib import nullcontext
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import click

from leadsync.core.cli.app import App, as_of_option, pass_app
from leadsync.core.cli.output import echo_json, print_table
from leadsync.core.cli.runline import summary_line, waiting_writes
from leadsync.core.errors import LeadsyncError
from leadsync.core.logs import setup_logging
from leadsync.core.state import dead_letters, waiting
from leadsync.core.state import outbox as state_outbox
from leadsync.core.state import runs as state_runs
from leadsync.core.sync.engine import RunOptions, RunSummary, run_sync

__all__ = ["sync"]

log = logging.getLogger(__name__)


@click.group()
def sync() -> None:
    """Run the sync and inspect its state."""


def _progress_context(enabled: bool) -> Any:
    if not enabled:
        return nullcontext(None)
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from rich.console import Console

    return Progress(SpinnerColumn(), TextColumn("{task.description}"), TextColumn("{task.completed:,} records"),
                    TimeElapsedColumn(), console=Console(stderr=True), transient=True)


def _print_summary(summary: RunSummary) -> None:
    mode = " (dry run: nothing written)" if summary.dry_run else ""
    click.echo(f"leadsync run {summary.run_id or '-'}{mode} finished in {summary.duration_s:.2f} s")
    rows = [(conn, stream, f"{count:,}") for conn, streams in summary.pulled.items() for stream, count in streams.items()]
    if rows:
        print_table("Pulled", ["connection", "stream", "records"], rows)
    print_table(
        "Run summary",
        ["scored", "segment changes", "scores pushed", "tasks created", "dead-lettered", "exit"],
        [(summary.scored, summary.segment_changes,
          f"{summary.scores_pushed} (planned {summary.scores_planned})",
          f"{summary.tasks_created} (planned {summary.tasks_planned})",
          summary.dead_lettered, summary.exit_status)],
    )


@sync.command("run")
@click.option("--dry-run", is_flag=True, help="Do everything but write: no vendor write, no state change.")
@click.option("--only", metavar="CONN", help="Only this connection.")
@click.option("--full-refresh", is_flag=True, help="Ignore saved cursors and re-read everything.")
@as_of_option
@click.option("--json", "as_json", is_flag=True, help="Print one JSON summary on stdout (also when the run fails).")
@click.option("--quiet", "-q", is_flag=True,
              help="Print nothing but errors and, when the exit status is not 0, the one-line summary on stderr.")
@click.option("--max-duration", type=click.FloatRange(min=0, min_open=True), metavar="MINUTES",
              help="Stop cleanly between batches after this many minutes (exit 7); the next run resumes.")
@pass_app
def run(app: App, dry_run: bool, only: str | None, full_refresh: bool, as_of: str | None, as_json: bool,
        quiet: bool, max_duration: float | None) -> None:
    """Pull, score, hand off and push once (for cron). Ends with one summary line on stderr."""
    setup_logging(app.log_format, verbose=app.verbose, quiet=quiet)
    try:
        summary = _run(app, dry_run, only, full_refresh, as_of, show_progress=sys.stderr.isatty() and not as_json
                       and not quiet, max_duration_s=max_duration * 60 if max_duration else None)
    except LeadsyncError as exc:
        if as_json:
            echo_json({"run_id": None, "exit_status": exc.exit_code, "error": str(exc)})
        raise
    if as_json:
        echo_json(run_json(summary, app.settings.scoring.timezone))
    elif not quiet:
        _print_summary(summary)
    if not quiet or summary.exit_status != 0:
        waiting = waiting_writes(app.settings.state_target) if summary.retry_later and not dry_run else (0, None)
        click.echo(summary_line(summary, waiting), err=True)
    click.get_current_context().exit(summary.exit_status)


def run_json(summary: RunSummary, zone: str) -> dict[str, Any]:
    """The run's JSON summary with `as_of` in the configured zone (ISO 8601 with its offset)."""
    data = summary.to_json()
    if summary.as_of is not None:
        data["as_of"] = summary.as_of.astimezone(ZoneInfo(zone)).isoformat()
    return data


def _run(app: App, dry_run: bool, only: str | None, full_refresh: bool, as_of: str | None,
         show_progress: bool, max_duration_s: float | None) -> RunSummary:
    settings = app.settings
    log.debug("configuration %s; state store %s; scoring sheet %s", settings.config_path, settings.state_target.describe(),
              settings.sheet_path)
    with _progress_context(show_progress) as progress:
        tasks: dict[str, Any] = {}

        def advance(label: str, n: int) -> None:
            if progress is None:
                return
            if label not in tasks:
                tasks[label] = progress.add_task(label, total=None)
            progress.advance(tasks[label], n)

        options = RunOptions(as_of=app.now(as_of) if as_of else None, dry_run=dry_run, only=only,
                             full_refresh=full_refresh, progress=advance if show_progress else None,
                             max_duration_s=max_duration_s)
        return run_sync(settings, app.host, options)


def _when(epoch: float | None, zone: str) -> str:
    """An epoch time for people: 'YYYY-MM-DD HH:MM:SS' in scoring.timezone."""
    if not epoch:
        return ""
    return datetime.fromtimestamp(epoch, tz=ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M:%S")


def _iso(epoch: float | None, zone: str) -> str | None:
    """An epoch time for programs: ISO 8601 with the offset of scoring.timezone."""
    return datetime.fromtimestamp(epoch, tz=ZoneInfo(zone)).isoformat(timespec="seconds") if epoch else None


def _cursor(value: str) -> Any:
    try:
        return json.loads(value)
    except ValueError:
        return value


@sync.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (times ISO 8601 with offset, cursors as objects).")
@click.option("--limit", default=10, show_default=True, help="How many runs and dead letters to show.")
@pass_app
def status(app: App, as_json: bool, limit: int) -> None:
    """Last runs, cursors, outbox and dead letters (times in scoring.timezone)."""
    zone = app.settings.scoring.timezone
    store = app.open_store(readonly=True)
    db = store.db
    runs = state_runs.recent(db, limit)
    for r in runs:
        r["summary"] = json.loads(r["summary"]) if r["summary"] else None
        r["started_at"], r["finished_at"] = _iso(r["started_at"], zone), _iso(r["finished_at"], zone)
    cursors = [{"connection": c["connection"], "stream": c["stream"], "value": _cursor(c["value"]),
                "updated_at": _iso(c["updated_at"], zone)}
               for c in state_runs.cursors(db)]
    outbox = state_outbox.status_counts(db)
    dead = dead_letters.recent(db, limit)
    for d in dead:
        d["created_at"] = _iso(d["created_at"], zone)
    dead_total = dead_letters.open_count(db)
    waiting_total, waiting_deals = waiting.count(db), waiting.count(db, "opportunity")
    if as_json:
        echo_json({"timezone": zone, "runs": runs, "cursors": cursors, "outbox": outbox, "dead_letters": dead,
                   "dead_letters_total": dead_total, "waiting_activities": waiting_total,
                   "waiting_opportunities": waiting_deals})
        return
    short = lambda iso: iso[:19].replace("T", " ") if iso else ""  # noqa: E731
    print_table(f"Runs (times in {zone})", ["id", "started", "finished", "status", "exit", "duplicates removed"],
                [(r["id"], short(r["started_at"]), short(r["finished_at"]), r["status"], r["exit_status"],
                  (r["summary"] or {}).get("duplicates_removed", "")) for r in runs])
    print_table("Cursors", ["connection", "stream", "cursor", "updated"],
                [(c["connection"], c["stream"], json.dumps(c["value"], ensure_ascii=False)[:60], short(c["updated_at"]))
                 for c in cursors])
    print_table("Outbox", ["connection", "kind", "status", "count"],
                [(o["connection"], o["kind"], o["status"], o["count"]) for o in outbox])
    print_table(f"Dead letters ({dead_total})", ["id", "connection", "kind", "record", "reason"],
                [(d["id"], d["connection"], d["kind"], d["record_key"], d["reason"]) for d in dead])
    for n, noun in ((waiting_total, "activit"), (waiting_deals, "opportunit")):
        if n:
            click.echo(f"{n} {noun}{'y waits' if n == 1 else 'ies wait'} for a lead not pulled yet "
                       "(placed by the run that pulls it)")


@sync.command("requeue")
@click.argument("ids", nargs=-1, type=int)
@click.option("--all", "requeue_all", is_flag=True, help="Re-queue every dead letter.")
@pass_app
def requeue(app: App, ids: tuple[int, ...], requeue_all: bool) -> None:
    """Re-queue dead letters: writes go back to the outbox, pulled records are read again.

    Re-queue a task that was dead-lettered as "may or may not have run" only after checking in the
    vendor that it did not: the connector then sends it once more despite its fence.
    """
    if not ids and not requeue_all:
        raise click.UsageError("name dead-letter ids or pass --all")
    store = app.open_store()
    rows = dead_letters.unacknowledged(store.db, None if requeue_all else ids)
    with store.transaction() as db:
        for row_id, connection, kind, record_key in rows:
            if kind in ("score", "task"):
                # A person re-queued it: for a task, that is the word that an attempt whose outcome
                # the connector could not know did not take effect, so it may pass the fence once.
                state_outbox.requeue(db, record_key or "")
            else:  # a record pulled from a stream: read the stream again from the start
                state_runs.clear_cursor(db, connection, kind)
            dead_letters.acknowledge(db, row_id)
    click.echo(f"re-queued {len(rows)} dead letter(s); the next `leadsync sync run` retries them")

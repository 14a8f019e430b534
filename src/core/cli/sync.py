"""`leadsync sync run | status | requeue`."""

from __future__ import annotations

import json
import sys
import time
from contextlib import nullcontext
from datetime import datetime, timezone
from typing import Any

import click

from leadsync.core.cli.app import App, as_of_option, pass_app
from leadsync.core.cli.output import echo_json, print_table
from leadsync.core.logs import setup_logging
from leadsync.core.sync.engine import RunOptions, RunSummary, run_sync

__all__ = ["sync"]


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
    for name, error in summary.failures.items():
        click.echo(f"connection {name} failed: {error}", err=True)
    if summary.duplicates_removed:
        click.echo(f"archived {summary.duplicates_removed} duplicate task(s) in the CRM (see the log)", err=True)
    if summary.interrupted:
        click.echo(f"{summary.interrupted}: stopped between batches; the next run resumes", err=True)


@sync.command("run")
@click.option("--dry-run", is_flag=True, help="Do everything but write: no vendor write, no state change.")
@click.option("--only", metavar="CONN", help="Only this connection.")
@click.option("--full-refresh", is_flag=True, help="Ignore saved cursors and re-read everything.")
@as_of_option
@click.option("--json", "as_json", is_flag=True, help="Print one JSON summary on stdout.")
@click.option("--quiet", "-q", is_flag=True, help="Print nothing but errors.")
@click.option("--max-duration", type=click.FloatRange(min=0, min_open=True), metavar="MINUTES",
              help="Stop cleanly between batches after this many minutes (exit 7); the next run resumes.")
@pass_app
def run(app: App, dry_run: bool, only: str | None, full_refresh: bool, as_of: str | None, as_json: bool,
        quiet: bool, max_duration: float | None) -> None:
    """Pull, score, hand off and push once (for cron)."""
    setup_logging(app.log_format, quiet=quiet)
    settings = app.settings
    show_progress = sys.stderr.isatty() and not as_json and not quiet
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
                             max_duration_s=max_duration * 60 if max_duration else None)
        summary = run_sync(settings, app.host, options)
    if as_json:
        echo_json(summary.to_json())
    elif not quiet:
        _print_summary(summary)
    click.get_current_context().exit(summary.exit_status)


def _when(epoch: float | None) -> str:
    return datetime.fromtimestamp(epoch, tz=timezone.utc).isoformat(timespec="seconds") if epoch else ""


@sync.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--limit", default=10, show_default=True, help="How many runs and dead letters to show.")
@pass_app
def status(app: App, as_json: bool, limit: int) -> None:
    """Last runs, cursors, outbox and dead letters."""
    store = app.open_store(readonly=True)
    db = store.db
    runs = [dict(r) for r in db.execute("SELECT * FROM runs ORDER BY id DESC LIMIT ?", (limit,))]
    for r in runs:
        r["summary"] = json.loads(r["summary"]) if r["summary"] else None
    cursors = [dict(r) for r in db.execute("SELECT connection, stream, value, updated_at FROM cursors ORDER BY 1, 2")]
    outbox = [dict(r) for r in db.execute(
        "SELECT connection, kind, status, COUNT(*) AS count FROM outbox GROUP BY 1, 2, 3 ORDER BY 1, 2, 3")]
    dead = [dict(r) for r in db.execute(
        "SELECT id, run_id, connection, kind, record_key, reason, created_at FROM dead_letters "
        "WHERE requeued_at IS NULL ORDER BY id DESC LIMIT ?", (limit,))]
    dead_total = db.execute("SELECT COUNT(*) FROM dead_letters WHERE requeued_at IS NULL").fetchone()[0]
    if as_json:
        echo_json({"runs": runs, "cursors": cursors, "outbox": outbox, "dead_letters": dead,
                   "dead_letters_total": dead_total})
        return
    print_table("Runs", ["id", "started", "finished", "status", "exit", "duplicates removed"],
                [(r["id"], _when(r["started_at"]), _when(r["finished_at"]), r["status"], r["exit_status"],
                  (r["summary"] or {}).get("duplicates_removed", "")) for r in runs])
    print_table("Cursors", ["connection", "stream", "cursor", "updated"],
                [(c["connection"], c["stream"], c["value"][:60], _when(c["updated_at"])) for c in cursors])
    print_table("Outbox", ["connection", "kind", "status", "count"],
                [(o["connection"], o["kind"], o["status"], o["count"]) for o in outbox])
    print_table(f"Dead letters ({dead_total})", ["id", "connection", "kind", "record", "reason"],
                [(d["id"], d["connection"], d["kind"], d["record_key"], d["reason"]) for d in dead])


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
    query = "SELECT id, connection, kind, record_key FROM dead_letters WHERE requeued_at IS NULL"
    rows = store.db.execute(query + ("" if requeue_all else f" AND id IN ({','.join('?' * len(ids))})"),
                            () if requeue_all else ids).fetchall()
    with store.transaction() as db:
        for row_id, connection, kind, record_key in rows:
            if kind in ("score", "task"):
                # A person re-queued it: for a task, that is the word that an attempt whose outcome
                # the connector could not know did not take effect, so it may pass the fence once.
                db.execute("UPDATE outbox SET status = 'pending', error = NULL, updated_at = ?, "
                           "payload = CASE WHEN kind = 'task' THEN json_set(payload, '$.retry_ambiguous', json('true')) "
                           "ELSE payload END WHERE key = ? AND status = 'dead'", (time.time(), record_key))
            else:  # a record pulled from a stream: read the stream again from the start
                db.execute("DELETE FROM cursors WHERE connection = ? AND stream = ?", (connection, kind))
            db.execute("UPDATE dead_letters SET requeued_at = ? WHERE id = ?", (time.time(), row_id))
    click.echo(f"re-queued {len(rows)} dead letter(s); the next `leadsync sync run` retries them")

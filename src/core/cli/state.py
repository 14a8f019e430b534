"""`leadsync state vacuum`: retention ([state] keep_days) and compaction of the state store."""

from __future__ import annotations

from datetime import timedelta

import click

from leadsync.core.cli.app import App, as_of_option, pass_app
from leadsync.core.cli.output import echo_json, print_table
from leadsync.core.normalize import normalize_email
from leadsync.core.state import erasure, retention
from leadsync.core.sync.lock import run_lock

__all__ = ["state"]


@click.group()
def state() -> None:
    """Maintain the state store."""


@state.command("vacuum")
@click.option("--no-compact", is_flag=True, help="Only delete old rows; do not rewrite the file (VACUUM).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object: rows deleted per table, sizes.")
@as_of_option
@pass_app
def vacuum(app: App, no_compact: bool, as_json: bool, as_of: str | None) -> None:
    """Delete bookkeeping older than [state] keep_days that no guarantee needs, then compact the file.

    Holds the run lock (exit 3 while a sync runs). What is kept and why: docs/operations.md.
    """
    settings = app.settings
    now = app.now(as_of).timestamp()
    keep_days = settings.state.keep_days
    reconcile_since = now - settings.sync.reconcile_hours * 3600
    with run_lock(settings.state_target):
        store = app.open_store()
        before_bytes = retention.store_bytes(store.db, store.dialect)
        deleted = retention.PruneCounts()
        if keep_days > 0:
            cutoff = min(now - timedelta(days=keep_days).total_seconds(), reconcile_since)
            with store.transaction() as db:
                deleted = retention.prune(db, before=cutoff, reconcile_since=reconcile_since,
                                          cooldown_since=now - timedelta(days=settings.handoff.cooldown_days).total_seconds())
        after_bytes = before_bytes if no_compact else retention.compact(store.db, store.dialect)["bytes"]
        remaining = retention.counts(store.db)
    result = {"keep_days": keep_days, "deleted": deleted.as_dict(), "deleted_total": deleted.total,
              "remaining": remaining, "bytes_before": before_bytes, "bytes_after": after_bytes,
              "compacted": not no_compact}
    if as_json:
        echo_json(result)
        return
    kept = f"older than {keep_days} days" if keep_days else "nothing ([state] keep_days = 0 keeps everything)"
    click.echo(f"Deleted {deleted.total:,} rows {kept}.")
    print_table("Rows", ["table", "deleted", "remaining"],
                [(table, f"{deleted.as_dict().get(table, 0):,}", f"{count:,}") for table, count in remaining.items()])
    if not no_compact:
        click.echo(f"File: {before_bytes:,} -> {after_bytes:,} bytes")


class _Preview(Exception):
    """Raised inside the transaction of a preview, so that nothing is kept."""


@state.command("forget")
@click.argument("people", nargs=-1, required=True, metavar="EMAIL_OR_LEAD_KEY...")
@click.option("--yes", is_flag=True, help="Delete. Without it, only show what would be deleted.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object: rows per table.")
@pass_app
def forget(app: App, people: tuple[str, ...], yes: bool, as_json: bool) -> None:
    """Delete everything the state store holds about these people (an erasure request).

    A person is named by e-mail, or by lead key (`crm:00Q...`) for a lead known without one.
    Delete them in every connected system too: a system that still has them brings them back on
    the next run. Holds the run lock (exit 3 while a sync runs). docs/operations.md says what goes.
    """
    emails = sorted({e for p in people if "@" in p and (e := normalize_email(p))})
    keys = sorted({p.strip() for p in people if "@" not in p and p.strip()})
    with run_lock(app.settings.state_target):
        store = app.open_store()
        deleted: dict[str, int] = {}
        try:
            with store.transaction() as db:
                deleted = erasure.forget(db, emails, keys)
                if not yes:
                    raise _Preview
        except _Preview:
            pass
    total = sum(deleted.values())
    if as_json:
        echo_json({"deleted": yes, "emails": emails, "lead_keys": keys, "rows": deleted, "rows_total": total})
        return
    verb = "Deleted" if yes else "Would delete"
    click.echo(f"{verb} {total:,} rows about {len(emails) + len(keys)} person(s).")
    print_table("Rows", ["table", "rows"], [(table, f"{n:,}") for table, n in deleted.items() if n])
    if not yes and total:
        click.echo("Nothing was deleted: run again with --yes to delete.")

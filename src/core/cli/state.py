"""`leadsync state vacuum`: retention ([state] keep_days) and compaction of the state store."""

from __future__ import annotations

from datetime import timedelta

import click

from leadsync.core.cli.app import App, as_of_option, pass_app
from leadsync.core.cli.output import echo_json, print_table
from leadsync.core.state import retention
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

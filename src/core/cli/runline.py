"""The one line a run leaves on stderr: what happened and, when something is wrong, where to look."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from leadsync.core.errors import (
    LeadsyncError,
    EXIT_CONNECTION,
    EXIT_DEAD_LETTERS,
    EXIT_OK,
    EXIT_UNCONFIRMED,
)
from leadsync.core.state import outbox
from leadsync.core.state.store import connect_readonly
from leadsync.core.state.target import StateTarget, open_store
from leadsync.core.sync.engine import RunSummary

__all__ = ["summary_line", "waiting_writes"]


def waiting_writes(state_path: Path | StateTarget) -> tuple[int, str | None]:
    """How many writes wait in the outbox after a refusal, and the newest refusal (read-only)."""
    if isinstance(state_path, StateTarget):
        if not state_path.is_postgres:
            return waiting_writes(state_path.path)
        try:
            store = open_store(state_path, readonly=True)
        except LeadsyncError:
            return 0, None
        try:
            return outbox.waiting(store.db)
        except LeadsyncError:
            return 0, None
        finally:
            store.close()
    if not state_path.exists():
        return 0, None
    try:
        db = connect_readonly(state_path)
        try:
            return outbox.waiting(db)
        finally:
            db.close()
    except sqlite3.Error:
        return 0, None


def summary_line(summary: RunSummary, waiting: tuple[int, str | None] = (0, None)) -> str:
    """`leadsync: run 7 ...`, naming the dead-letter count, the failed connection or the waiting writes."""
    head = f"leadsync: run {summary.run_id or '-'}" + (" (dry run)" if summary.dry_run else "")
    done = (f"{summary.scored} scored, {summary.tasks_created} task(s) created, "
            f"{summary.scores_pushed} score(s) pushed")
    problems: list[str] = []
    for name, error in summary.failures.items():
        problems.append(f"connection {name} failed: {error} (check it: `leadsync connections check {name}`)")
    if summary.dead_lettered:
        problems.append(f"{summary.dead_lettered} record(s) dead-lettered (see `leadsync sync status`)")
    if summary.retry_later:
        count, error = waiting
        reason = f": {error}" if error else ""
        problems.append(f"{count or summary.retry_later} write(s) could not be confirmed or were refused for now, "
                        f"retried next run{reason} (see `leadsync sync status`)")
    if summary.interrupted:
        problems.insert(0, f"interrupted ({summary.interrupted}) between batches; the next `leadsync sync run` resumes")
    if summary.duplicates_removed:
        done += f", {summary.duplicates_removed} duplicate task(s) archived in the CRM"
    if summary.leads_removed:
        done += f", {summary.leads_removed} lead record(s) removed (deleted or merged in their system)"
    for n, noun in ((summary.waiting_activities, "activit"), (summary.waiting_opportunities, "opportunit")):
        if n:
            done += f", {n} {noun}{'y waits for its' if n == 1 else 'ies wait for their'} lead"
    status = summary.exit_status
    if status == EXIT_OK and not problems:
        return f"{head} ok: {done} in {summary.duration_s:.1f} s"
    if not problems and status not in (EXIT_DEAD_LETTERS, EXIT_CONNECTION, EXIT_UNCONFIRMED):
        problems.append("see `leadsync sync status`")
    return f"{head} exit {status}: " + "; ".join(problems) + f" [{done}]"

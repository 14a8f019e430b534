"""One sync run, start to finish: pull, score, hand off, push (docs/architecture.md)."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from leadsync.connectors.base import Capability, Connector, ReadContext, TaskRequest, TaskUpdate, WriteResult
from leadsync.connectors.plugins import PluginHost
from leadsync.connectors.redact import redact
from leadsync.core.config import Settings
from leadsync.core.errors import (
    EXIT_CONNECTION,
    EXIT_DEAD_LETTERS,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_UNCONFIRMED,
    ConfigError,
    StateStoreError,
)
from leadsync.core.state.rewind import rewind
from leadsync.core.state.store import StateStore
from leadsync.core.sync.connections import connection_names, open_connections, task_connection
from leadsync.core.sync.identity import ingest
from leadsync.core.sync.interrupt import RunInterrupted, StopFlag
from leadsync.core.sync.lock import RunLock
from leadsync.connectors.prefetch import prefetched
from leadsync.core.sync.push import dispatch, plan_score_pushes, reconcile_tasks

__all__ = ["RunOptions", "RunSummary", "run_sync"]

log = logging.getLogger(__name__)


@dataclass
class RunOptions:
    as_of: datetime | None = None
    dry_run: bool = False
    only: str | None = None
    full_refresh: bool = False
    pull: bool = True
    progress: Callable[[str, int], Any] | None = None  # (label, advance)
    max_duration_s: float | None = None  # stop between batches after this long (exit 7)
    started_at: float | None = None  # epoch; set by run_sync: each outbox row is sent at most once per run


@dataclass
class RunSummary:
    """What a run did; `--json` prints `to_json()`."""

    run_id: int | None = None
    dry_run: bool = False
    as_of: datetime | None = None
    pulled: dict[str, dict[str, int]] = field(default_factory=dict)
    scored: int = 0
    segment_changes: int = 0
    scores_planned: int = 0
    scores_pushed: int = 0
    tasks_planned: int = 0
    tasks_created: int = 0
    dead_lettered: int = 0
    retry_later: int = 0
    duplicates_removed: int = 0
    interrupted: str | None = None
    failures: dict[str, str] = field(default_factory=dict)
    handoffs: list[Any] = field(default_factory=list)
    exit_status: int = EXIT_OK
    duration_s: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "dry_run": self.dry_run,
            "as_of": self.as_of.isoformat() if self.as_of else None,
            "pulled": self.pulled,
            "scored": self.scored,
            "segment_changes": self.segment_changes,
            "scores_planned": self.scores_planned,
            "scores_pushed": self.scores_pushed,
            "tasks_planned": self.tasks_planned,
            "tasks_created": self.tasks_created,
            "dead_lettered": self.dead_lettered,
            "retry_later": self.retry_later,
            "duplicates_removed": self.duplicates_removed,
            "interrupted": self.interrupted,
            "failures": {name: redact(error) for name, error in self.failures.items()},  # vendor text
            "exit_status": self.exit_status,
            "duration_s": round(self.duration_s, 3),
        }


def _pull(
    store: StateStore, settings: Settings, connectors: dict[str, Connector], host: PluginHost,
    options: RunOptions, summary: RunSummary, signpost: datetime, stop: StopFlag | None = None,
) -> list[TaskUpdate]:
    stop = stop or StopFlag()
    crm = set(connection_names(settings, Capability.TASKS))
    lookback = timedelta(minutes=settings.sync.lookback_minutes)
    task_updates: list[TaskUpdate] = []
    for name, connector in connectors.items():
        roles = {r.value for r in connector.settings.roles}
        if not roles & {"leads", "activities"}:
            continue
        counts = summary.pulled.setdefault(name, {})
        try:
            for stream in connector.streams():
                if stream.name in ("leads", "activities") and stream.name not in roles:
                    continue
                cursor = None if options.full_refresh else store.get_cursor(name, stream.name)
                ctx = ReadContext(cursor=cursor, signpost=signpost, lookback=lookback, full_refresh=options.full_refresh)
                counts.setdefault(stream.name, 0)
                for page in prefetched(stream.read(ctx)):
                    stop.check()  # pages before this one are committed with their cursors
                    with store.transaction() as db:
                        result = ingest(db, name, page.records, stream=stream.name, crm_connections=crm,
                                        run_id=summary.run_id, normalize_hook=host.hook.normalize_lead)
                        store.set_cursor(name, stream.name, page.cursor)
                    counts[stream.name] += len(page.records)
                    summary.dead_lettered += result.rejected
                    task_updates.extend(result.task_events)
                    if options.progress:
                        options.progress(f"pull {name}/{stream.name}", len(page.records))
        except RunInterrupted:
            raise
        except Exception as exc:
            _connection_failed(summary, name, exc)
    return task_updates


def _connection_failed(summary: RunSummary, name: str, exc: BaseException) -> None:
    if isinstance(exc, (ConfigError, StateStoreError)):  # the user's to fix (exit 2), or our store's (exit 5)
        raise exc
    summary.failures[name] = f"{type(exc).__name__}: {exc}"
    log.error("connection %s failed: %s", name, exc)


def _start_run(store: StateStore) -> int:
    with store.transaction() as db:
        # This run holds the lock, so a run still marked running died without finishing (kill -9).
        db.execute("UPDATE runs SET status = 'killed' WHERE status = 'running'")
        cursor = db.execute("INSERT INTO runs(started_at, status) VALUES (?, 'running')", (time.time(),))
    return int(cursor.lastrowid or 0)


def _finish_run(store: StateStore, summary: RunSummary) -> None:
    status = {EXIT_OK: "ok", EXIT_DEAD_LETTERS: "dead_letters", EXIT_INTERRUPTED: "interrupted",
              EXIT_UNCONFIRMED: "retry_later"}.get(summary.exit_status, "failed")
    with store.transaction() as db:
        db.execute(
            "UPDATE runs SET finished_at = ?, status = ?, exit_status = ?, summary = ? WHERE id = ?",
            (time.time(), status, summary.exit_status, json.dumps(summary.to_json(), ensure_ascii=False), summary.run_id),
        )


def _send(store: StateStore, connectors: dict[str, Connector], host: PluginHost, summary: RunSummary,
          options: RunOptions, stop: StopFlag) -> None:
    def task_done(connection: str, request: TaskRequest, result: WriteResult) -> None:
        key = result.adopted_key or request.key
        row = store.db.execute("SELECT * FROM handoffs WHERE task_key = ?", (key,)).fetchone()
        try:
            host.hook.handoff_created(handoff=dict(row) if row else None, task=request)
        except Exception as exc:  # a notification plugin must not fail the run
            log.warning("handoff_created hook failed: %s", exc)

    progress = (lambda n: options.progress("push", n)) if options.progress else None
    counts = dispatch(store, connectors, run_id=summary.run_id, on_task_done=task_done, progress=progress, stop=stop,
                      not_sent_since=options.started_at)
    summary.scores_pushed += counts.scores_pushed
    summary.tasks_created += counts.tasks_created
    summary.dead_lettered += counts.dead_lettered
    summary.retry_later += counts.retry_later
    for name, error in counts.failed.items():
        summary.failures.setdefault(name, error)
    if counts.interrupted is not None:
        raise counts.interrupted


def run_sync(settings: Settings, host: PluginHost, options: RunOptions) -> RunSummary:
    """Run once. Configuration and the scoring sheet are checked before anything is written."""
    from leadsync.core import handoff, scoring

    started = time.monotonic()
    now = datetime.now(timezone.utc)
    as_of = options.as_of or now
    summary = RunSummary(dry_run=options.dry_run, as_of=as_of)
    options.started_at = now.timestamp()

    sheet = scoring.load_sheet(settings.sheet_path, settings.scoring, scoring.scoring_conditions(host))
    connectors = open_connections(settings, host, options.only)
    tasks_to = task_connection(settings)
    try:
        if options.dry_run:
            disk = StateStore(settings.state_path, readonly=True) if settings.state_path.exists() else None
            store = disk.snapshot() if disk else StateStore(":memory:")
            if disk:
                disk.close()
            if options.as_of is not None and options.as_of < now:  # a replay: forget what came later
                rewind(store, options.as_of)
            return _run(store, settings, host, options, summary, connectors, sheet, tasks_to, as_of, now, started)
        with RunLock(settings.state_path):
            store = StateStore(settings.state_path)
            return _run(store, settings, host, options, summary, connectors, sheet, tasks_to, as_of, now, started)
    finally:
        for connector in connectors.values():
            connector.close()


def _run(store: StateStore, settings: Settings, host: PluginHost, options: RunOptions, summary: RunSummary,
         connectors: dict[str, Connector], sheet: Any, tasks_to: str | None, as_of: datetime, now: datetime,
         started: float) -> RunSummary:
    max_duration = options.max_duration_s
    if max_duration is None and settings.sync.max_duration_minutes:
        max_duration = settings.sync.max_duration_minutes * 60
    try:
        summary.run_id = _start_run(store)
        with StopFlag(max_duration) as stop:
            try:
                _steps(store, settings, host, options, summary, connectors, sheet, tasks_to, as_of, now, stop)
            except RunInterrupted as exc:
                summary.interrupted = exc.reason
                log.warning("%s; the next run resumes where this one stopped", exc)
        if summary.interrupted:
            summary.exit_status = EXIT_INTERRUPTED
        elif summary.failures:
            summary.exit_status = EXIT_CONNECTION
        elif summary.retry_later:
            summary.exit_status = EXIT_UNCONFIRMED
        elif summary.dead_lettered:
            summary.exit_status = EXIT_DEAD_LETTERS
        summary.duration_s = time.monotonic() - started
        _finish_run(store, summary)
        return summary
    except BaseException:  # a run that dies is recorded as failed, never left `running`
        if summary.run_id is not None and not options.dry_run:
            _mark_failed(store, summary.run_id)
        raise
    finally:
        store.close()


def _steps(store: StateStore, settings: Settings, host: PluginHost, options: RunOptions, summary: RunSummary,
           connectors: dict[str, Connector], sheet: Any, tasks_to: str | None, as_of: datetime, now: datetime,
           stop: StopFlag) -> None:
    """Resume, pull, score, hand off, push, reconcile (docs/architecture.md, "One run")."""
    from leadsync.core import handoff, scoring

    writers = {} if options.dry_run else connectors
    if writers:  # writes a previous run planned but never saw acknowledged go first
        _send(store, writers, host, summary, options, stop)
    task_updates = (
        _pull(store, settings, connectors, host, options, summary, signpost=now, stop=stop) if options.pull else []
    )
    stop.check()
    result = scoring.rescore(store, sheet, settings.scoring, as_of)
    summary.scored = result.scored
    summary.segment_changes = len(result.segment_changed)
    stop.check()

    handoff.update_episodes(store, settings, as_of, host, task_updates)
    plans = handoff.plan_handoffs(store, settings, as_of, host, task_connection=tasks_to)
    summary.handoffs = plans
    # Hand off and write back only from complete data: a failed pull may hide the CRM status
    # that says sales already rejected a lead. Writes planned earlier are still sent.
    complete = not summary.failures
    if complete and tasks_to is not None and (options.only is None or options.only == tasks_to):
        created = handoff.apply_handoffs(store, [p for p in plans if p.action == "create_task"], as_of, summary.run_id)
        summary.tasks_planned = len(created)

    for name in connection_names(settings, Capability.SCORES):
        if complete and name in connectors:
            summary.scores_planned += plan_score_pushes(store, name, summary.run_id)

    if writers:
        healthy = {n: c for n, c in writers.items() if n not in summary.failures}
        _send(store, healthy, host, summary, options, stop)
        _reconcile(store, settings, {n: c for n, c in healthy.items() if n not in summary.failures}, summary, stop)


def _reconcile(store: StateStore, settings: Settings, connectors: dict[str, Connector], summary: RunSummary,
               stop: StopFlag) -> None:
    window = settings.sync.reconcile_hours * 3600
    if window <= 0:
        return
    for name, connector in connectors.items():
        try:
            removed = reconcile_tasks(store, {name: connector}, window_s=window, limit=500, stop=stop)
        except RunInterrupted:
            raise
        except Exception as exc:  # the vendor failed while checking: duplicates may remain, say so
            _connection_failed(summary, name, exc)
            continue
        summary.duplicates_removed += len(removed)


def _mark_failed(store: StateStore, run_id: int) -> None:
    try:
        if store.db.in_transaction:
            store.db.execute("ROLLBACK")
        with store.transaction() as db:
            db.execute("UPDATE runs SET finished_at = ?, status = 'failed' WHERE id = ? AND status = 'running'",
                       (time.time(), run_id))
    except StateStoreError as exc:  # the store itself failed: that error is the run's one line already
        log.debug("could not mark run %s as failed: %s", run_id, exc)
    except Exception as exc:
        log.error("could not mark run %s as failed: %s", run_id, exc)

"""One sync run, start to finish: a `Run` and its named steps (docs/architecture.md, "One run")."""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from leadsync.connectors.base import Capability, Connector, Page, ReadContext, TaskRequest, WriteResult
from leadsync.connectors.plugins import PluginHost
from leadsync.connectors.redact import redact
from leadsync.core import handoff, notify, quality, scoring
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
from leadsync.core.models import Activity, Opportunity
from leadsync.core.state import leads, runs, waiting
from leadsync.core.state.rewind import rewind
from leadsync.core.state.store import StateStore
from leadsync.core.state.target import open_store
from leadsync.core.sync.concurrent import interleaved
from leadsync.core.sync.connections import connection_names, open_connections, task_connection
from leadsync.core.sync.identity import ingest
from leadsync.core.sync.latecomers import expire_waiting, place_waiting
from leadsync.core.sync.interrupt import RunInterrupted, StopFlag
from leadsync.core.sync.lock import run_lock
from leadsync.core.sync.vendorclock import note_vendor_clock, on_vendor_clock
from leadsync.core.sync.push import ScorePlanner, dispatch, reconcile_tasks

__all__ = ["Run", "RunOptions", "RunSummary", "run_sync"]

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
    waiting_activities: int = 0
    waiting_opportunities: int = 0
    leads_removed: int = 0
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
            "waiting_activities": self.waiting_activities,
            "waiting_opportunities": self.waiting_opportunities,
            "leads_removed": self.leads_removed,
            "retry_later": self.retry_later,
            "duplicates_removed": self.duplicates_removed,
            "interrupted": self.interrupted,
            "failures": {name: redact(error) for name, error in self.failures.items()},  # vendor text
            "exit_status": self.exit_status,
            "duration_s": round(self.duration_s, 3),
        }


def _placeable(store: StateStore, connection: str, page: Page, running: set[str]) -> bool:
    """Whether a page can be committed now: while the connection's leads stream still reads, an
    activity or opportunity known only by its lead's record id waits until that lead is stored."""
    if "leads" not in running:
        return True
    wanted = {r.lead_record_id for r in page.records
              if isinstance(r, (Activity, Opportunity)) and r.lead_record_id and not r.email}
    return not wanted or len(leads.known_leads(store.db, connection, sorted(wanted))) == len(wanted)


def _connection_failed(summary: RunSummary, name: str, exc: BaseException) -> None:
    if isinstance(exc, (ConfigError, StateStoreError)):  # the user's to fix (exit 2), or our store's (exit 5)
        raise exc
    summary.failures[name] = f"{type(exc).__name__}: {exc}"
    log.error("connection %s failed: %s", name, exc)


_RUN_STATUS = {EXIT_OK: "ok", EXIT_DEAD_LETTERS: "dead_letters", EXIT_INTERRUPTED: "interrupted",
               EXIT_UNCONFIRMED: "retry_later"}


@dataclass
class Run:
    """One run on one store, as named steps in order (`STEPS`); each step is a method.

    resume: send the writes a previous run planned but never saw acknowledged;
    pull: read every stream from its cursor, page by page (records, task updates and the cursor
    commit together); score: rescore what changed; hand_off: update episodes and plan, then
    record, new handoffs; push: plan score write-backs and send the outbox; reconcile: archive
    duplicate tasks of resent creates. A stop request is honoured between steps and batches.
    """

    store: StateStore
    settings: Settings
    host: PluginHost
    options: RunOptions
    summary: RunSummary
    connectors: dict[str, Connector]
    sheet: Any
    tasks_to: str | None
    as_of: datetime
    now: datetime
    stop: StopFlag = field(default_factory=StopFlag)

    STEPS = ("resume", "pull", "score", "hand_off", "push", "reconcile")

    @property
    def writers(self) -> dict[str, Connector]:
        """The connections this run writes to: none in a dry run."""
        return {} if self.options.dry_run else self.connectors

    @property
    def complete(self) -> bool:
        """Hand off and write back only from complete data: a failed pull may hide the CRM status
        that says sales already rejected a lead. Writes planned earlier are still sent."""
        return not self.summary.failures

    def execute(self) -> None:
        for step in self.STEPS:
            getattr(self, step)()

    # --- the steps -------------------------------------------------------------------------------
    def resume(self) -> None:
        if self.writers:
            self._send(self.writers)

    def pull(self) -> None:
        if not self.options.pull:
            return
        switch = sys.getswitchinterval()
        # Readers wait on the network, the committer on the CPU: let a reader whose answer came in
        # take the interpreter within 1 ms rather than 5, so the next request goes out sooner.
        sys.setswitchinterval(min(switch, 0.001))
        try:
            self._pull()
        finally:
            sys.setswitchinterval(switch)
        with self.store.transaction() as db:  # activities and opportunities that came before their lead
            place_waiting(db)
            previous = runs.started_before(db, self.summary.run_id) if self.summary.run_id is not None else None
            if previous is not None:
                read = [n for n in self.summary.pulled if n not in self.summary.failures]
                kept_before = previous - self.settings.sync.lookback_minutes * 60
                self.summary.dead_lettered += expire_waiting(db, read, self.summary.run_id, kept_before)
            self.summary.waiting_activities = waiting.count(db)
            self.summary.waiting_opportunities = waiting.count(db, "opportunity")

    def _pull(self) -> None:
        store, summary, options = self.store, self.summary, self.options
        crm = set(connection_names(self.settings, Capability.TASKS))
        lookback = timedelta(minutes=self.settings.sync.lookback_minutes)
        for name, connector in self.connectors.items():
            roles = {r.value for r in connector.settings.roles}
            if not roles & {"leads", "activities"}:
                continue
            counts = summary.pulled.setdefault(name, {})
            signpost, conn_lookback = on_vendor_clock(store, connector, name, self.now, lookback)
            try:
                lanes: list[list[tuple[str, Any]]] = [[]]  # lane 0: streams read one after the other
                for stream in connector.streams():
                    if stream.name in ("leads", "activities") and stream.name not in roles:
                        continue
                    cursor = None if options.full_refresh else store.get_cursor(name, stream.name)
                    ctx = ReadContext(cursor=cursor, signpost=signpost, lookback=conn_lookback,
                                      full_refresh=options.full_refresh)
                    counts.setdefault(stream.name, 0)
                    source = (stream.name, stream.read(ctx))
                    if stream.parallel:
                        lanes.append([source])
                    else:
                        lanes[0].append(source)
                # Parallel streams read side by side; every page is committed here, one at a time.
                for stream_name, page in interleaved(lanes, lambda s, p, running: _placeable(store, name, p, running)):
                    self.stop.check()  # pages before this one are committed with their cursors
                    with store.transaction() as db:
                        result = ingest(db, name, page.records, stream=stream_name, crm_connections=crm,
                                        run_id=summary.run_id, normalize_hook=self.host.hook.normalize_lead,
                                        on_task_update=handoff.record_task_update)
                        store.set_cursor(name, stream_name, page.cursor)
                    counts[stream_name] += len(page.records)
                    summary.dead_lettered += result.rejected
                    summary.leads_removed += result.removed
                    if options.progress:
                        options.progress(f"pull {name}/{stream_name}", len(page.records))
            except RunInterrupted:
                raise
            except Exception as exc:
                _connection_failed(summary, name, exc)
            finally:
                note_vendor_clock(store, connector, name, self.settings.sync.clock_skew_warn_s)

    def score(self) -> None:
        self.stop.check()
        result = scoring.rescore(self.store, self.sheet, self.settings.scoring, self.as_of)
        self.summary.scored = result.scored
        self.summary.segment_changes = len(result.segment_changed)

    def hand_off(self) -> None:
        self.stop.check()
        handoff.update_episodes(self.store, self.settings, self.as_of, self.host)
        try:
            plans = handoff.plan_handoffs(self.store, self.settings, self.as_of, self.host,
                                          task_connection=self.tasks_to, owners=self._owners())
        except handoff.OwnerLookupFailed as exc:  # the CRM could not say who a rep is: hand off nothing
            _connection_failed(self.summary, exc.connection, exc.cause)
            plans = []
        self.summary.handoffs = plans
        only = self.options.only
        if self.complete and self.tasks_to is not None and (only is None or only == self.tasks_to):
            created = handoff.apply_handoffs(self.store, [p for p in plans if p.action == "create_task"], self.as_of,
                                             self.summary.run_id)
            self.summary.tasks_planned = len(created)

    def push(self) -> None:
        """Plan the score write-backs and send the outbox, tasks first. The score plan is made while
        the task batches, then the first score batches, are out (each chunk committed before
        anything of it is sent)."""
        planners = [ScorePlanner(self.store, name, self.summary.run_id,
                                 held=lambda keys: quality.held(self.store.db, self.settings.quality, keys))
                    for name in connection_names(self.settings, Capability.SCORES)
                    if self.complete and name in self.connectors]

        def plan_a_chunk() -> bool:
            return any(planner.step() for planner in planners)

        try:
            if self.writers:
                self._send(self._healthy(), kinds=("task",), idle=plan_a_chunk if planners else None)
                self._send(self._healthy(), kinds=("score",), idle=plan_a_chunk if planners else None, feeds=True)
            for planner in planners:  # a dry run, or the connection failed: plan what is left
                planner.finish()
        finally:
            self.summary.scores_planned += sum(planner.planned for planner in planners)

    def reconcile(self) -> None:
        window = self.settings.sync.reconcile_hours * 3600
        if not self.writers or window <= 0:
            return
        for name, connector in self._healthy().items():
            try:
                removed = reconcile_tasks(self.store, {name: connector}, window_s=window, limit=500, stop=self.stop)
            except RunInterrupted:
                raise
            except Exception as exc:  # the vendor failed while checking: duplicates may remain, say so
                _connection_failed(self.summary, name, exc)
                continue
            self.summary.duplicates_removed += len(removed)

    # --- helpers ---------------------------------------------------------------------------------
    def _owners(self) -> handoff.OwnerDirectory | None:
        """The reps of the configuration as the task connection knows them, asked once per run.

        When the CRM cannot be asked, the connection fails and nothing is handed off this run.
        """
        connector = self.connectors.get(self.tasks_to or "")
        if connector is None or self.tasks_to in self.summary.failures:
            return None
        return handoff.OwnerDirectory(connector, handoff.configured_owners(self.settings.handoff))

    def _healthy(self) -> dict[str, Connector]:
        return {n: c for n, c in self.writers.items() if n not in self.summary.failures}

    def _send(self, connectors: dict[str, Connector], kinds: tuple[str, ...] = ("task", "score"),
              idle: Callable[[], bool] | None = None, feeds: bool = False) -> None:
        def task_done(connection: str, request: TaskRequest, result: WriteResult) -> None:
            handoff.announce_created(self.store, self.host, request, result)

        summary, options = self.summary, self.options
        progress = (lambda n: options.progress("push", n)) if options.progress else None  # type: ignore[misc]
        counts = dispatch(self.store, connectors, run_id=summary.run_id, on_task_done=task_done, progress=progress,
                          stop=self.stop, not_sent_since=options.started_at, kinds=kinds, idle=idle,
                          idle_feeds=feeds)
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
            target = settings.state_target
            disk = open_store(target, readonly=True) if target.exists() else None
            store = disk.snapshot() if disk else StateStore(":memory:")
            if disk:
                disk.close()
            if options.as_of is not None and options.as_of < now:  # a replay: forget what came later
                rewind(store, options.as_of)
            return _run(Run(store, settings, host, options, summary, connectors, sheet, tasks_to, as_of, now), started)
        with run_lock(settings.state_target) as lock:
            store = open_store(settings.state_target, lock=lock)
            return _run(Run(store, settings, host, options, summary, connectors, sheet, tasks_to, as_of, now), started)
    finally:
        for connector in connectors.values():
            connector.close()


def _run(run: Run, started: float) -> RunSummary:
    """Record the run, execute its steps, and record how it ended (exit status); close the store."""
    store, settings, options, summary = run.store, run.settings, run.options, run.summary
    max_duration = options.max_duration_s
    if max_duration is None and settings.sync.max_duration_minutes:
        max_duration = settings.sync.max_duration_minutes * 60
    notices = None
    try:
        notices = notify.attach(store, settings, run.host, run.as_of, dry_run=options.dry_run)  # this run's hooks
        with store.transaction() as db:
            summary.run_id = runs.start(db)
        with StopFlag(max_duration) as stop:
            run.stop = stop
            try:
                run.execute()
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
        notices.after_run(summary)  # never fails the run: a channel that is down waits for the next
        summary.duration_s = time.monotonic() - started
        with store.transaction() as db:
            runs.finish(db, summary.run_id, _RUN_STATUS.get(summary.exit_status, "failed"), summary.exit_status,
                        summary.to_json())
        return summary
    except BaseException:  # a run that dies is recorded as failed, never left `running`
        if summary.run_id is not None and not options.dry_run:
            _mark_failed(store, summary.run_id)
        raise
    finally:
        if notices is not None:
            notices.detach()
        store.close()


def _mark_failed(store: StateStore, run_id: int) -> None:
    try:
        store.rollback()
        with store.transaction() as db:
            runs.mark_failed(db, run_id)
    except StateStoreError as exc:  # the store itself failed: that error is the run's one line already
        log.debug("could not mark run %s as failed: %s", run_id, exc)
    except Exception as exc:
        log.error("could not mark run %s as failed: %s", run_id, exc)

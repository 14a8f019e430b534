"""Planning score write-backs and sending the outbox in the vendors' batch sizes."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from leadsync.connectors.base import Connector, RemovedTask, TaskCheck, TaskRequest, WriteResult
from leadsync.connectors.errors import SetupMissing
from leadsync.core.codec import score_payload, score_update, task_request
from leadsync.core.state import dead_letters, handoffs, outbox, scores
from leadsync.core.state.store import StateStore
from leadsync.core.sync.inflight import InFlight
from leadsync.core.sync.interrupt import RunInterrupted, StopFlag

__all__ = ["DispatchCounts", "ConnectionDown", "ScorePlanner", "dispatch", "plan_score_pushes", "reconcile_tasks",
           "write_width"]

log = logging.getLogger(__name__)

KIND_BATCH = {"task": "tasks", "score": "scores"}


def plan_score_pushes(store: StateStore, connection: str, run_id: int | None,
                      held: Callable[[list[str]], set[str]] | None = None) -> int:
    """Queue a score update for every lead whose score differs from what `connection` last acknowledged.

    Only leads that have a record in that connection are pushed, and none in `held(lead_keys)`
    (the quality gate's quarantine). A newer planned update supersedes an older one still pending
    for the same lead. A few statements per chunk of leads, not per lead.
    """
    return ScorePlanner(store, connection, run_id, held).finish()


class ScorePlanner:
    """`plan_score_pushes` a chunk at a time (`step`), so the engine can plan while writes are out.

    Each chunk is committed on its own: a run stopped half-way leaves whole planned rows, which the
    next run's plan supersedes like any pending row of an earlier run.
    """

    def __init__(self, store: StateStore, connection: str, run_id: int | None,
                 held: Callable[[list[str]], set[str]] | None = None, chunk: int = 1_000) -> None:
        self.store, self.connection, self.run_id, self.held, self.chunk = store, connection, run_id, held, chunk
        self.planned = 0
        self._rows: list[tuple[Any, ...]] | None = None
        self._next = 0

    def step(self) -> bool:
        """Plan the next chunk; False when everything is planned."""
        if self._rows is None:
            self._rows = scores.unpushed(self.store.db, self.connection)
        rows = self._rows[self._next:self._next + self.chunk]
        if not rows:
            return False
        self._next += len(rows)
        keep_back = self.held([r[0] for r in rows]) if self.held is not None else set()
        planned = []
        for lead_key, email, record_id, total, behavior, attribute, segment, version, scored_at, fp in rows:
            if lead_key in keep_back:
                continue
            # Unique per plan, not per value: a score can go A -> B -> A, and the last A must be sent.
            # One per record: two records of a connection can share a lead (one e-mail), each shows its score.
            key = f"score:{self.connection}:{lead_key}:{record_id}:{fp}:run{self.run_id}"
            payload = score_payload(lead_key=lead_key, email=email, record_id=record_id, score=total,
                                    behavior=behavior, attribute=attribute, segment=segment,
                                    sheet_version=version, scored_at=scored_at, fingerprint=fp)
            planned.append((key, lead_key, payload))
        if planned:
            with self.store.transaction() as db:
                self.planned += outbox.enqueue_scores(db, self.connection, planned, run_id=self.run_id)
        return True

    def finish(self) -> int:
        """Plan what is left; how many rows this planner queued in all."""
        while self.step():
            pass
        return self.planned


class ConnectionDown(Exception):
    """A connection's write call failed as a whole; its rows stay pending for the next run."""

    def __init__(self, connection: str, error: BaseException) -> None:
        super().__init__(f"{connection}: {error}")
        self.connection = connection
        self.error = error


def _wait_for_possibly_applied_writes(
    store: StateStore, connector: Connector, name: str, kind: str, sleep: Callable[[float], Any]
) -> None:
    """A pending row that was already sent may have been applied (the run died waiting for the
    answer). Before it is resent, let the vendor's reads catch up so its look-before-create sees it."""
    lag = connector.read_after_write_lag()
    sent = outbox.last_sent(store.db, name, kind)
    if lag > 0 and sent is not None:
        remaining = sent + lag - time.time()
        if remaining > 0:
            log.info("%s: waiting %.1f s for earlier %s writes to become visible", name, remaining, kind)
            sleep(min(remaining, lag))


@dataclass
class DispatchCounts:
    scores_pushed: int = 0
    tasks_created: int = 0
    dead_lettered: int = 0
    retry_later: int = 0
    failed: dict[str, str] = field(default_factory=dict)
    interrupted: RunInterrupted | None = None  # a stop request ended the sending between two batches


def dispatch(
    store: StateStore,
    connectors: dict[str, Connector],
    *,
    run_id: int | None,
    on_task_done: Callable[[str, TaskRequest, WriteResult], Any] | None = None,
    kinds: tuple[str, ...] = ("task", "score"),
    progress: Callable[[int], Any] | None = None,
    sleep: Callable[[float], Any] = time.sleep,
    stop: StopFlag | None = None,
    not_sent_since: float | None = None,
    idle: Callable[[], bool] | None = None,
    idle_feeds: bool = False,
) -> DispatchCounts:
    """Send every pending outbox row, batch by batch, marking each as the vendor answers.

    Tasks go first: a hot lead reaching sales matters more than a score field. A row the vendor
    asks to retry stays pending and is not sent again in this run. A stop request is honoured
    between batches and reported in `interrupted`, with the counts of what was sent before it.
    Rows handed to the vendor since `not_sent_since` (the run's start) are not sent again.
    `idle` is other work of the caller's thread, done a slice at a time (it returns False when
    none is left) while a call is out and nothing has come back: the calls then run in a thread.
    With `idle_feeds`, that work queues more rows of the kinds being sent (the score plan): a
    batch is filled from it before it goes, and the sending ends only once it is done.
    """
    counts = DispatchCounts()
    try:
        _dispatch(store, connectors, counts, run_id=run_id, on_task_done=on_task_done, kinds=kinds,
                  progress=progress, sleep=sleep, stop=stop, not_sent_since=not_sent_since, idle=idle,
                  idle_feeds=idle_feeds)
    except RunInterrupted as exc:
        counts.interrupted = exc
    return counts


def write_width(connector: Connector, kind: str) -> int:
    """How many of `connector`'s `kind` batches may be in flight at once.

    Score batches: the connector's `write_concurrency`. Task batches go one at a time: a create
    looks for the lead's open task first, and must see what the batch before it created.
    """
    if kind != "score":
        return 1
    return max(1, int(getattr(connector, "write_concurrency", 1) or 1))


@dataclass
class _Batch:
    """One write call: its outbox rows and the requests made of them, in the same order."""

    rows: list[outbox.OutboxRow]
    requests: list[Any]

    @property
    def leads(self) -> set[str]:
        return {r.lead_key for r in self.rows}


def _dispatch(
    store: StateStore,
    connectors: dict[str, Connector],
    counts: DispatchCounts,
    *,
    run_id: int | None,
    on_task_done: Callable[[str, TaskRequest, WriteResult], Any] | None,
    kinds: tuple[str, ...],
    progress: Callable[[int], Any] | None,
    sleep: Callable[[float], Any],
    stop: StopFlag | None,
    not_sent_since: float | None,
    idle: Callable[[], bool] | None = None,
    idle_feeds: bool = False,
) -> None:
    for kind in kinds:
        for name, connector in connectors.items():
            if name in counts.failed:
                continue
            _wait_for_possibly_applied_writes(store, connector, name, kind, sleep)
            with InFlight[_Batch, list[WriteResult]](write_width(connector, kind), f"leadsync-push-{name}",
                                                     threaded=idle is not None) as window:
                idle = _send_connection(store, connector, name, kind, window, counts, run_id=run_id,
                                        on_task_done=on_task_done, progress=progress, stop=stop,
                                        not_sent_since=not_sent_since, idle=idle, idle_feeds=idle_feeds)


def _send_connection(
    store: StateStore,
    connector: Connector,
    name: str,
    kind: str,
    window: InFlight[_Batch, list[WriteResult]],
    counts: DispatchCounts,
    *,
    run_id: int | None,
    on_task_done: Callable[[str, TaskRequest, WriteResult], Any] | None,
    progress: Callable[[int], Any] | None,
    stop: StopFlag | None,
    not_sent_since: float | None,
    idle: Callable[[], bool] | None = None,
    idle_feeds: bool = False,
) -> Callable[[], bool] | None:
    """Send one connection's pending `kind` rows, up to the window's width of batches at once.

    Every batch's rows are committed as sending before its call starts, and recorded here, in this
    thread, when it returns. A stop request or a failed batch lets no new batch start; the batches
    already in flight are awaited and recorded first. Two batches in flight never share a lead,
    so a lead's updates reach the vendor in the outbox's order. While calls are out, `idle` work
    is done a slice at a time; with `idle_feeds` it also fills a short batch before it goes and
    is done before the sending ends. Returns `idle`, or None once it has no work left.
    """
    size = max(1, int(connector.batch_sizes.get(KIND_BATCH[kind], 100)))
    last_id = 0  # each row is tried once per run: a retryable answer waits for the next run
    held: list[outbox.OutboxRow] | None = None  # read, not yet sent: shares a lead with a batch in flight
    exhausted = False
    stopping: RunInterrupted | None = None
    while True:
        while stopping is None and name not in counts.failed and window.has_room():
            if held is None:
                if exhausted:
                    break
                held = outbox.pending(store.db, name, kind, size, after_id=last_id, not_sent_since=not_sent_since)
                while idle_feeds and idle is not None and len(held) < size:  # more rows are on their way
                    if not idle():
                        idle = None
                    held = outbox.pending(store.db, name, kind, size, after_id=last_id, not_sent_since=not_sent_since)
                if not held:
                    held, exhausted = None, True
                    break
                last_id = held[-1].id
            busy = set().union(*(batch.leads for batch in window.tags())) if len(window) else set()
            if busy & {r.lead_key for r in held}:
                break  # wait for that batch's answer first
            if stop is not None:
                try:
                    stop.check()  # between batches: no new one starts; those in flight are recorded below
                except RunInterrupted as exc:
                    stopping = exc
                    break
            rows, held = held, None
            with store.transaction() as db:
                outbox.mark_sending(db, [r.id for r in rows])
            batch = _Batch(rows, [task_request(r.key, r.payload) if kind == "task" else score_update(r.key, r.payload)
                                  for r in rows])
            window.submit(batch, _write_call(connector, kind, batch.requests))
        if not len(window):
            break
        while idle is not None and not window.any_finished():
            if not idle():
                idle = None
        for done in window.finished():
            _record(store, name, kind, done.tag, done.result, done.error, counts, run_id=run_id,
                    on_task_done=on_task_done, progress=progress)
    if stopping is not None:
        raise stopping
    return idle


def _write_call(connector: Connector, kind: str, requests: list[Any]) -> Callable[[], list[WriteResult]]:
    if kind == "task":
        return lambda: connector.create_tasks(requests)
    return lambda: connector.push_scores(requests)


def _record(
    store: StateStore,
    name: str,
    kind: str,
    batch: _Batch,
    results: list[WriteResult] | None,
    error: Exception | None,
    counts: DispatchCounts,
    *,
    run_id: int | None,
    on_task_done: Callable[[str, TaskRequest, WriteResult], Any] | None,
    progress: Callable[[int], Any] | None,
) -> None:
    """Record one batch's answer; a failed call stops the connection (its rows stay pending)."""
    rows, requests = batch.rows, batch.requests
    if isinstance(error, SetupMissing):  # nothing of the batch was applied: it waits for the set-up
        with store.transaction() as db:
            outbox.mark_not_applied(db, [r.id for r in rows], str(error))
        if name not in counts.failed:
            counts.failed[name] = f"{error}; run `leadsync connections setup {name}`, then sync again"
            log.error("%s: %s", name, counts.failed[name])
        return
    if error is not None:  # the vendor is unreachable or refused the call as a whole: rows stay pending
        log.warning("%s: %s writes stopped: %s", name, kind, error)
        counts.failed.setdefault(name, f"{type(error).__name__}: {error}")
        return
    by_key = {r.key: r for r in results or []}
    with store.transaction() as db:
        _record_answers(db, name, kind, rows, by_key, counts, run_id)
    if kind == "task" and on_task_done is not None:
        for request in requests:
            result = by_key.get(request.key)
            if result is not None and result.ok:
                on_task_done(name, request, result)
    if progress is not None:
        progress(len(rows))


def _record_answers(db: Any, name: str, kind: str, rows: list[outbox.OutboxRow], by_key: dict[str, WriteResult],
                    counts: DispatchCounts, run_id: int | None) -> None:
    """Mark a batch's rows as the vendor answered: done (and the score pushed), retry later, or dead."""
    done: list[tuple[str, str | None, str | None]] = []
    retries: list[tuple[str, str]] = []
    pushed: list[tuple[str, str]] = []
    for row in rows:
        result = by_key.get(row.key)
        if result is None:
            retries.append((row.key, "no answer for this record"))
        elif result.ok:
            done.append((row.key, result.external_id, result.adopted_key))
            if kind == "task" and result.adopted_key and result.adopted_key != row.key:
                _adopt(db, name, row.key, result.adopted_key)
            if kind == "score":
                pushed.append((row.lead_key, row.payload["fingerprint"]))
        elif result.retryable:
            retries.append((row.key, result.error or "retryable error"))
        else:
            outbox.mark_dead(db, row.key, result.error or "rejected")
            dead_letters.add(db, run_id=run_id, connection=name, kind=kind, key=row.key,
                             reason=result.error or "rejected by the vendor", payload=row.payload)
            counts.dead_lettered += 1
    if done:
        outbox.mark_done_many(db, done)
    if retries:
        outbox.mark_retry_many(db, retries)
    if pushed:
        scores.record_pushed_many(db, name, pushed)
    counts.retry_later += len(retries)
    if kind == "score":
        counts.scores_pushed += len(pushed)
    else:
        counts.tasks_created += len(done)


def _adopt(db: Any, connection: str, key: str, adopted_key: str) -> None:
    """The CRM already had an open task for this lead under `adopted_key` (this store lost the
    write that made it): track the handoff under that key, so the CRM's updates of it close it."""
    handoffs.retarget_task(db, key, adopted_key)
    log.warning("%s: task %s adopted the open task %s the CRM already had for this lead", connection, key, adopted_key)


def reconcile_tasks(
    store: StateStore, connectors: dict[str, Connector], *, window_s: float, limit: int,
    stop: StopFlag | None = None,
) -> list[tuple[str, RemovedTask]]:
    """Ask each connection to archive duplicate live tasks of handoffs whose create was resent.

    A task can only exist twice when its create was sent more than once (an answer lost, then a
    resend): those of the last `window_s` seconds are checked against the vendor's primary store
    every run, which also catches a create the vendor applied after the resend had looked.
    """
    removed: list[tuple[str, RemovedTask]] = []
    for name, connector in connectors.items():
        if type(connector).reconcile_tasks is Connector.reconcile_tasks:
            continue  # an upsert by unique key cannot duplicate: nothing to check
        if stop is not None:
            stop.check()
        rows = outbox.resent_tasks(store.db, name, time.time() - window_s, limit)
        if not rows:
            continue
        checks = [
            TaskCheck(key=r["key"], lead_key=r["lead_key"], email=r["payload"].get("email"),
                      record_id=r["payload"].get("record_id"), external_id=r["external_id"])
            for r in rows
        ]
        for item in connector.reconcile_tasks(checks):
            log.warning("%s: archived duplicate task %s of handoff %s (kept %s)", name, item.external_id, item.key,
                        item.kept)
            removed.append((name, item))
    return removed

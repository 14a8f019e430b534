"""Several score batches in flight per connection (`Connector.write_concurrency`).

Each fake blocks until the expected number of batches is in flight (a barrier with a timeout, so a
regression to one batch at a time fails instead of hanging). Counts only, never timings.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
from collections.abc import Sequence

import pytest

from leadsync.connectors.base import ConnectionSettings, Connector, ScoreUpdate, WriteResult
from leadsync.connectors.errors import SetupMissing
from leadsync.core.state import outbox
from leadsync.core.state.store import StateStore
from leadsync.core.sync.inflight import InFlight
from leadsync.core.sync.interrupt import StopFlag
from leadsync.core.sync.push import dispatch, plan_score_pushes, write_width

from tests.sync.test_push import seeded

WAIT_S = 10.0  # far beyond what a healthy run needs; only a regression ever waits this long


class Overlapping(Connector):
    """Score batches of 2; every call waits at a barrier until `width` calls are in flight."""

    name = "overlapping"
    batch_sizes = {"scores": 2, "tasks": 2}

    def __init__(self, width: int = 3, fail_lead: str | None = None, fail_with: Exception | None = None,
                 on_full=None) -> None:
        super().__init__("crm", ConnectionSettings(plugin="overlapping"))
        self.write_concurrency = width  # type: ignore[misc]
        # `on_full` runs once every call of a round is in, before any of them goes on
        self.barrier = threading.Barrier(width, action=on_full, timeout=WAIT_S)
        self.failure_recorded = threading.Event()
        self.lock = threading.Lock()
        self.calls: list[list[str]] = []
        self.threads: set[str] = set()
        self.in_flight = 0
        self.most_in_flight = 0
        self.fail_lead = fail_lead
        self.fail_with = fail_with

    def push_scores(self, updates: Sequence[ScoreUpdate]) -> list[WriteResult]:
        with self.lock:
            self.calls.append([u.lead_key for u in updates])
            self.threads.add(threading.current_thread().name)
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            self.barrier.wait()  # raises BrokenBarrierError if fewer than `width` ever overlap
            if self.fail_lead is not None:
                if any(u.lead_key == self.fail_lead for u in updates):
                    raise self.fail_with or ConnectionError("vendor down")
                # the others answer once the engine has recorded the failure, as a slower vendor would
                assert self.failure_recorded.wait(WAIT_S)
            return [WriteResult(u.key, ok=True, external_id=u.record_id) for u in updates]
        finally:
            with self.lock:
                self.in_flight -= 1


class _FailureSeen(logging.Handler):
    """Tells a connector when the engine has recorded a failed batch (it logs it as it does)."""

    def __init__(self, connector: Overlapping) -> None:
        super().__init__()
        self.connector = connector

    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno >= logging.WARNING:
            self.connector.failure_recorded.set()


@pytest.fixture
def failing():
    """`failing(**kwargs)`: an Overlapping connector whose healthy batches answer after the failure is recorded."""
    logger = logging.getLogger("leadsync.core.sync.push")
    handlers: list[logging.Handler] = []

    def make(**kwargs) -> Overlapping:
        connector = Overlapping(**kwargs)
        handlers.append(_FailureSeen(connector))
        logger.addHandler(handlers[-1])
        return connector

    yield make
    for handler in handlers:
        logger.removeHandler(handler)


def statuses(store: StateStore) -> dict[str, tuple[str, bool]]:
    rows = store.db.execute("SELECT lead_key, status, sent_at FROM outbox").fetchall()
    return {r[0]: (r[1], r[2] is not None) for r in rows}


def test_the_width_comes_from_the_connector_and_task_batches_stay_one_at_a_time():
    connector = Overlapping(width=3)
    assert (write_width(connector, "score"), write_width(connector, "task")) == (3, 1)
    assert Connector.write_concurrency == 1


def test_score_batches_overlap_up_to_the_connectors_width(new_store):
    store = seeded(new_store, 12)
    assert plan_score_pushes(store, "crm", None) == 12
    connector = Overlapping(width=3)
    progressed: list[int] = []
    counts = dispatch(store, {"crm": connector}, run_id=1, progress=progressed.append)
    assert counts.failed == {} and counts.scores_pushed == 12
    assert connector.most_in_flight == 3 and len(connector.calls) == 6
    assert sorted(k for call in connector.calls for k in call) == sorted(f"l{i}@x.jp" for i in range(12))
    assert all(name.startswith("leadsync-push-crm") for name in connector.threads)
    assert sum(progressed) == 12 and len(progressed) == 6
    assert set(statuses(store).values()) == {("done", True)}
    assert plan_score_pushes(store, "crm", None) == 0  # every push recorded as acknowledged


def test_rows_are_committed_as_sending_before_their_batch_is_sent(tmp_path):
    path = tmp_path / "state.db"
    store = seeded(lambda: StateStore(path), 6)
    plan_score_pushes(store, "crm", None)
    seen: list[tuple[str, str, object]] = []

    class Checking(Overlapping):
        def push_scores(self, updates):
            with sqlite3.connect(path) as other:  # another connection sees only committed rows
                for u in updates:
                    seen.append(other.execute("SELECT lead_key, status, sent_at FROM outbox WHERE key = ?",
                                              (u.key,)).fetchone())
            return super().push_scores(updates)

    counts = dispatch(store, {"crm": Checking(width=3)}, run_id=1)
    assert counts.scores_pushed == 6 and len(seen) == 6
    assert all(status == "pending" and sent_at is not None for _, status, sent_at in seen)


def test_a_stop_request_lets_the_batches_in_flight_finish_and_records_them_all(new_store):
    store = seeded(new_store, 12)
    plan_score_pushes(store, "crm", None)
    stop = StopFlag()
    connector = Overlapping(width=3, on_full=lambda: stop.request("SIGTERM"))
    counts = dispatch(store, {"crm": connector}, run_id=1, stop=stop)
    assert counts.interrupted is not None and counts.interrupted.reason == "SIGTERM"
    assert len(connector.calls) == 3 and counts.scores_pushed == 6  # no batch started after the request
    sent = {k for call in connector.calls for k in call}
    state = statuses(store)
    assert {k for k, v in state.items() if v == ("done", True)} == sent
    assert {k for k, v in state.items() if v == ("pending", False)} == set(state) - sent  # never sent
    counts = dispatch(store, {"crm": Overlapping(width=3)}, run_id=2)
    assert counts.scores_pushed == 6 and set(statuses(store).values()) == {("done", True)}


def test_a_failed_batch_stops_new_ones_records_the_others_and_loses_nothing(new_store, failing):
    store = seeded(new_store, 12)
    plan_score_pushes(store, "crm", None)
    connector = failing(width=3, fail_lead="l2@x.jp")  # one of the first three batches
    counts = dispatch(store, {"crm": connector}, run_id=1)
    assert counts.failed["crm"].startswith("ConnectionError") and len(connector.calls) == 3
    assert counts.scores_pushed == 4 and counts.dead_lettered == 0
    state = statuses(store)
    failed = next(call for call in connector.calls if "l2@x.jp" in call)
    answered = {k for call in connector.calls if call is not failed for k in call}
    assert {k for k, v in state.items() if v == ("done", True)} == answered and len(answered) == 4
    assert {k for k, v in state.items() if v == ("pending", True)} == set(failed)  # possibly applied: resent
    assert len([v for v in state.values() if v == ("pending", False)]) == 6  # never sent
    counts = dispatch(store, {"crm": Overlapping(width=2)}, run_id=2)
    assert counts.scores_pushed == 8 and set(statuses(store).values()) == {("done", True)}


def test_setup_missing_in_one_batch_stops_the_connection_and_keeps_its_rows_unsent(new_store, failing):
    store = seeded(new_store, 12)
    plan_score_pushes(store, "crm", None)
    error = SetupMissing("HubSpot contact property leadsync_score", status=400)
    connector = failing(width=3, fail_lead="l0@x.jp", fail_with=error)
    counts = dispatch(store, {"crm": connector}, run_id=1)
    assert "leadsync connections setup crm" in counts.failed["crm"] and len(connector.calls) == 3
    assert (counts.scores_pushed, counts.dead_lettered) == (4, 0)
    state = statuses(store)
    failed = next(call for call in connector.calls if "l0@x.jp" in call)
    assert all(state[k] == ("pending", False) for k in failed)  # as if never sent
    assert len([v for v in state.values() if v == ("done", True)]) == 4
    assert store.db.execute("SELECT COUNT(*) FROM dead_letters").fetchone()[0] == 0


def test_each_row_is_sent_at_most_once_per_run(new_store, failing):
    store = seeded(new_store, 6)
    plan_score_pushes(store, "crm", None)
    started = time.time()
    first = failing(width=3, fail_lead="l0@x.jp")
    dispatch(store, {"crm": first}, run_id=1, not_sent_since=started)
    again = Overlapping(width=1)
    counts = dispatch(store, {"crm": again}, run_id=1, not_sent_since=started)  # the same run, retried
    assert again.calls == [] and counts.scores_pushed == 0


def test_two_batches_in_flight_never_share_a_lead(new_store, monkeypatch):
    """A second pending update of a lead waits for the first's answer, so they apply in order.

    The first l0 update is held in flight until the engine has read the second and gone back to
    waiting: by then it has committed the second as sending if (and only if) it did not wait."""
    store = seeded(new_store, 4)
    plan_score_pushes(store, "crm", None)
    again = "score:crm:l0@x.jp:again"
    with store.transaction() as db:  # e.g. a dead-lettered update re-queued while a newer one waits
        outbox.enqueue(db, key=again, connection="crm", kind="score", lead_key="l0@x.jp",
                       payload=_payload(store, "l0@x.jp"), run_id=None)
    again_id = store.db.execute("SELECT id FROM outbox WHERE key = ?", (again,)).fetchone()[0]
    events: list[str] = []
    fetched = threading.Event()
    engine_waiting = threading.Event()
    pending, mark_sending, finished = outbox.pending, outbox.mark_sending, InFlight.finished

    def watch_pending(*args, **kwargs):
        rows = pending(*args, **kwargs)
        if any(r.key == again for r in rows):
            fetched.set()
        return rows

    def watch_sending(db, ids):
        events.append("sending again" if again_id in ids else f"sending {ids}")
        return mark_sending(db, ids)

    def watch_finished(self):
        if fetched.is_set():
            engine_waiting.set()
        return finished(self)

    monkeypatch.setattr(outbox, "pending", watch_pending)
    monkeypatch.setattr(outbox, "mark_sending", watch_sending)
    monkeypatch.setattr(InFlight, "finished", watch_finished)

    class Ordered(Connector):
        name = "ordered"
        batch_sizes = {"scores": 1}
        write_concurrency = 3

        def push_scores(self, updates):
            (u,) = updates
            if u.lead_key == "l0@x.jp" and u.key != again:
                assert engine_waiting.wait(WAIT_S)
                events.append("end first l0")
            return [WriteResult(u.key, ok=True, external_id=u.record_id)]

    counts = dispatch(store, {"crm": Ordered("crm", ConnectionSettings(plugin="ordered"))}, run_id=1)
    assert counts.scores_pushed == 5 and counts.failed == {}
    assert events.index("end first l0") < events.index("sending again")


def _payload(store: StateStore, lead_key: str) -> dict:
    raw = store.db.execute("SELECT payload FROM outbox WHERE lead_key = ?", (lead_key,)).fetchone()[0]
    return json.loads(raw) if isinstance(raw, str) else dict(raw)


@pytest.mark.parametrize("width", [1, 2])
def test_a_narrow_window_sends_everything_too(new_store, width):
    store = seeded(new_store, 8)  # 4 batches: whole rounds of the barrier
    plan_score_pushes(store, "crm", None)
    connector = Overlapping(width=width)
    counts = dispatch(store, {"crm": connector}, run_id=1)
    assert counts.scores_pushed == 8 and connector.most_in_flight == width

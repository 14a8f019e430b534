"""The engine's side of exactly-once: adoption, the reconcile backstop, re-queued fences, stops."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence

import pytest
from click.testing import CliRunner

from leadsync.connectors.base import (
    ConnectionSettings,
    Connector,
    RemovedTask,
    TaskCheck,
    TaskRequest,
    WriteResult,
)
from leadsync.core.state.store import StateStore
from leadsync.core.state import outbox
from leadsync.core.sync.interrupt import RunInterrupted, StopFlag
from leadsync.core.sync.push import dispatch, reconcile_tasks


class MemoryCRM(Connector):
    """A CRM whose tasks live in a dict: key -> list of task ids (more than one is a duplicate)."""

    name = "memory"
    batch_sizes = {"scores": 100, "tasks": 2}

    def __init__(self) -> None:
        super().__init__("crm", ConnectionSettings(plugin="memory"))
        self.tasks: dict[str, list[str]] = {}
        self.open_by_lead: dict[str, str] = {}  # lead key -> key of an open task made by an earlier store
        self.requests: list[TaskRequest] = []
        self.checked: list[TaskCheck] = []
        self.answer_retryable = False

    def create_tasks(self, tasks: Sequence[TaskRequest]) -> list[WriteResult]:
        out = []
        for task in tasks:
            self.requests.append(task)
            if self.answer_retryable:
                out.append(WriteResult(task.key, ok=False, error="row lock", retryable=True))
            elif task.key in self.tasks:  # look before create (a consistent read)
                out.append(WriteResult(task.key, ok=True, external_id=self.tasks[task.key][0]))
            elif task.lead_key in self.open_by_lead:
                adopted = self.open_by_lead[task.lead_key]
                out.append(WriteResult(task.key, ok=True, external_id=self.tasks[adopted][0], adopted_key=adopted))
            else:
                self.tasks.setdefault(task.key, []).append(f"t{sum(map(len, self.tasks.values())) + 1}")
                out.append(WriteResult(task.key, ok=True, external_id=self.tasks[task.key][0]))
        return out

    def reconcile_tasks(self, checks: Sequence[TaskCheck]) -> list[RemovedTask]:
        self.checked.extend(checks)
        removed = []
        for check in checks:
            ids = self.tasks.get(check.key, [])
            removed += [RemovedTask(check.key, extra, ids[0]) for extra in ids[1:]]
            self.tasks[check.key] = ids[:1]
        return removed


def _handoff(store: StateStore, lead: str, key: str, *, sends: int = 0) -> None:
    payload = {"key": key, "lead_key": lead, "email": lead, "record_id": "c1", "owner": None, "subject": "s",
               "body": "b", "due_at": "2026-11-24T10:00:00+09:00", "priority": "high"}
    with store.transaction() as db:
        db.execute("INSERT INTO handoffs(lead_key, connection, status, score, segment, opened_at, due_at, task_key) "
                   "VALUES (?, 'crm', 'open', 90, 'hot', ?, ?, ?)", (lead, time.time(), time.time(), key))
        outbox.enqueue(db, key=key, connection="crm", kind="task", lead_key=lead, payload=payload)
        db.execute("UPDATE outbox SET sends = ? WHERE key = ?", (sends, key))


def test_an_adopted_task_is_tracked_under_the_crm_key_and_nothing_is_created(new_store):
    store = new_store()
    crm = MemoryCRM()
    crm.tasks["ls-old"] = ["t1"]
    crm.open_by_lead["a@x.jp"] = "ls-old"  # the CRM has the task a lost state store had planned
    _handoff(store, "a@x.jp", "ls-new")
    counts = dispatch(store, {"crm": crm}, run_id=None, kinds=("task",))
    assert counts.tasks_created == 1
    assert crm.tasks == {"ls-old": ["t1"]}
    assert store.db.execute("SELECT task_key FROM handoffs").fetchone()[0] == "ls-old"
    row = store.db.execute("SELECT status, external_id, adopted_key FROM outbox").fetchone()
    assert tuple(row) == ("done", "t1", "ls-old")


def test_every_send_is_counted_and_only_resent_creates_are_reconciled(new_store):
    store = new_store()
    crm = MemoryCRM()
    _handoff(store, "a@x.jp", "ls-a", sends=1)  # an earlier send's answer was lost
    _handoff(store, "b@x.jp", "ls-b")
    crm.tasks["ls-a"] = ["t1", "t2"]  # the lost send had landed; later, a resend landed too
    dispatch(store, {"crm": crm}, run_id=None, kinds=("task",))
    sends = dict(store.db.execute("SELECT key, sends FROM outbox").fetchall())
    assert sends == {"ls-a": 2, "ls-b": 1}
    removed = reconcile_tasks(store, {"crm": crm}, window_s=3600, limit=500)
    assert [c.key for c in crm.checked] == ["ls-a"]  # one send cannot have made two tasks
    assert [(name, r.external_id, r.kept) for name, r in removed] == [("crm", "t2", "t1")]
    assert crm.tasks["ls-a"] == ["t1"]


def test_reconcile_skips_creates_outside_the_window_and_connectors_that_upsert(new_store):
    store = new_store()
    crm = MemoryCRM()
    _handoff(store, "a@x.jp", "ls-a", sends=1)
    dispatch(store, {"crm": crm}, run_id=None, kinds=("task",))
    store.db.execute("UPDATE outbox SET updated_at = updated_at - 7200")
    assert reconcile_tasks(store, {"crm": crm}, window_s=3600, limit=500) == []
    assert crm.checked == []
    # a connector that keeps the default (its create is an upsert by a unique key) is not asked
    assert reconcile_tasks(store, {"crm": Connector("crm", ConnectionSettings(plugin="x"))}, window_s=1e9,
                           limit=500) == []


@pytest.mark.parametrize("state_backend", ["sqlite", "postgresql"], indirect=True)
def test_a_requeued_task_may_pass_the_fence_once(tmp_path, state_backend):
    from leadsync.core.cli.main import cli

    project = state_backend.project()
    (tmp_path / "leadsync.toml").write_text(state_backend.toml(project), encoding="utf-8")
    path = tmp_path / "state" / "state.db"
    store = state_backend.open(project, path)
    _handoff(store, "a@x.jp", "ls-a", sends=1)
    with store.transaction() as db:
        outbox.mark_dead(db, "ls-a", "an earlier campaign request may have run")
        db.execute("INSERT INTO dead_letters(connection, kind, record_key, reason, created_at) "
                   "VALUES ('crm', 'task', 'ls-a', 'ambiguous', ?)", (time.time(),))
    store.close()
    result = CliRunner().invoke(cli, ["--config", str(tmp_path / "leadsync.toml"), "sync", "requeue", "--all"])
    assert result.exit_code == 0, result.output

    store = state_backend.open(project, path)
    crm = MemoryCRM()
    crm.answer_retryable = True
    dispatch(store, {"crm": crm}, run_id=None, kinds=("task",))
    dispatch(store, {"crm": crm}, run_id=None, kinds=("task",))
    assert [r.retry_ambiguous for r in crm.requests] == [True, False]  # used up by the first send
    assert "retry_ambiguous" not in json.loads(store.db.execute("SELECT payload FROM outbox").fetchone()[0])


def test_a_stop_request_ends_sending_between_batches_and_keeps_the_counts(new_store):
    store = new_store()
    crm = MemoryCRM()
    for i in range(5):
        _handoff(store, f"l{i}@x.jp", f"ls-{i}")
    stop = StopFlag()
    original = crm.create_tasks

    def create_then_signal(tasks):
        stop.request("SIGTERM")  # arrives while the first batch is in flight
        return original(tasks)

    crm.create_tasks = create_then_signal  # type: ignore[method-assign]
    counts = dispatch(store, {"crm": crm}, run_id=None, kinds=("task",), stop=stop)
    assert isinstance(counts.interrupted, RunInterrupted)
    assert counts.tasks_created == 2  # the batch in flight was answered and recorded
    pending = store.db.execute("SELECT COUNT(*) FROM outbox WHERE status = 'pending'").fetchone()[0]
    assert pending == 3


def test_max_duration_is_a_stop_request():
    stop = StopFlag(max_duration_s=1e-9)
    time.sleep(0.001)
    with pytest.raises(RunInterrupted, match="max duration"):
        stop.check()

"""Score-push planning and answer recording cost a few statements, not a few per lead, and end as
the per-row path did; the quality gate reads nothing when no rule can quarantine."""

from __future__ import annotations

import random
import threading
from datetime import datetime, timezone

import pytest

from leadsync.connectors.base import TaskRequest, WriteResult
from leadsync.core.codec import task_payload
from leadsync.core import quality
from leadsync.core.config import QualitySettings
from leadsync.core.models import Lead
from leadsync.core.state import leads as stored_leads
from leadsync.core.state import outbox
from leadsync.core.state import store as store_module
from leadsync.core.state.store import StateStore
from leadsync.core.sync.identity import ingest
from leadsync.core.sync.push import ScorePlanner, dispatch, plan_score_pushes

from .test_push import RecordingConnector

_calls = [0]


@pytest.fixture
def counted(monkeypatch):
    """Counts calls of execute/executemany on the SQLite store's cursors (an executemany is one)."""
    for name in ("execute", "executemany"):
        original = getattr(store_module._Cursor, name)

        def wrapper(self, *args, _original=original, **kwargs):
            _calls[0] += 1
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(store_module._Cursor, name, wrapper)
    return _calls


def _store(n: int, *, domain: str = "x.jp") -> StateStore:
    store = StateStore(":memory:")
    with store.transaction() as db:
        ingest(db, "crm", [Lead(key=f"l{i}@{domain}", email=f"l{i}@{domain}", refs={"crm": f"c{i}"}) for i in range(n)],
               stream="leads", crm_connections={"crm"}, run_id=None)
    _rescore(store, range(n), 10, domain=domain)
    return store


def _rescore(store: StateStore, which, total: int, *, domain: str = "x.jp") -> None:
    with store.transaction() as db:
        for i in which:
            db.execute("INSERT INTO scores VALUES (?, ?, 0, ?, 'cold', 'v1', ?, NULL, '[]') ON CONFLICT(lead_key) "
                       "DO UPDATE SET total = excluded.total, attribute = excluded.attribute",
                       (f"l{i}@{domain}", total + i, total + i, 1_790_000_000.0))


def _statements(calls, action) -> int:
    before = calls[0]
    action()
    return calls[0] - before


def _held(store: StateStore, settings: QualitySettings):
    return lambda keys: quality.held(store.db, settings, keys)


def test_planning_costs_the_same_few_statements_for_ten_leads_or_a_thousand(counted):
    small, large = _store(10), _store(1000)
    settings = QualitySettings()
    cost_small = _statements(counted, lambda: plan_score_pushes(small, "crm", 1, held=_held(small, settings)))
    cost_large = _statements(counted, lambda: plan_score_pushes(large, "crm", 1, held=_held(large, settings)))
    assert cost_small == cost_large <= 6  # unpushed, known keys, insert, supersede (+ begin/commit)
    assert large.db.execute("SELECT count(*) FROM outbox WHERE status = 'pending'").fetchone()[0] == 1000


def test_no_rule_can_quarantine_by_default_so_the_gate_reads_nothing(counted):
    store = _store(50)
    assert quality.quarantining_rules(QualitySettings()) == set()  # competitor quarantines, but lists none
    keys = [f"l{i}@x.jp" for i in range(50)]
    assert _statements(counted, lambda: quality.held(store.db, QualitySettings(), keys)) == 0
    assert quality.quarantining_rules(QualitySettings(competitors=["rival.jp"])) == {"competitor"}
    assert quality.quarantining_rules(QualitySettings(required_fields="quarantine")) == set()  # no field required
    assert quality.quarantining_rules(QualitySettings(test_data="quarantine")) == {"test_data"}


def test_held_reads_a_chunk_of_leads_in_a_few_statements_and_agrees_with_the_per_lead_check(counted):
    store = StateStore(":memory:")
    rng = random.Random(3)
    names = ["Taro", "test", "テスト", "Ken", None]
    domains = ["x.jp", "rival.jp", "gmail.com", "sub.rival.jp", "example.com"]
    leads = [Lead(key=f"p{i}@{rng.choice(domains)}", email=None, first_name=rng.choice(names),
                  refs={"crm": f"c{i}"}) for i in range(300)]
    leads = [lead.model_copy(update={"email": lead.key}) for lead in leads]
    with store.transaction() as db:
        ingest(db, "crm", leads, stream="leads", crm_connections={"crm"}, run_id=None)
    keys = [lead.key for lead in leads] + ["nobody@x.jp"]
    released = next(lead.key for lead in leads if lead.key.endswith("@rival.jp") and lead.first_name == "Ken")
    quality.release_lead(store.db, QualitySettings(competitors=["rival.jp"]), released, by="ops")
    for settings in (QualitySettings(competitors=["rival.jp"]), QualitySettings(test_data="quarantine"),
                     QualitySettings(free_mail="quarantine", competitors=["rival.jp"], competitor="warn")):
        expected = {k for k in keys  # the per-lead verdict, lead by lead
                    if (lead := stored_leads.load(store.db, k)) is not None and quality.check(store.db, settings, lead).quarantined}
        assert expected  # each setting holds someone
        if settings.competitor == "quarantine":
            assert released not in expected  # a person let it through
        assert _statements(counted, lambda: quality.held(store.db, settings, keys)) <= 3
        assert quality.held(store.db, settings, keys) == expected


def test_a_quarantined_lead_gets_no_score_write_until_released():
    store = _store(5, domain="rival.jp")
    settings = QualitySettings(competitors=["rival.jp"])
    assert plan_score_pushes(store, "crm", 1, held=_held(store, settings)) == 0
    quality.release_lead(store.db, settings, "l3@rival.jp", by="ops")
    assert plan_score_pushes(store, "crm", 2, held=_held(store, settings)) == 1
    assert [r.lead_key for r in outbox.pending(store.db, "crm", "score", 10)] == ["l3@rival.jp"]


class Answering(RecordingConnector):
    """Acknowledges the leads in `ok`; the others get a retryable error (a row lock)."""

    def __init__(self, ok: set[str], size: int = 3) -> None:
        super().__init__()
        self.ok = ok
        self.batch_sizes = {"scores": size}

    def push_scores(self, updates):
        self.calls.append([u.key for u in updates])
        return [WriteResult(u.key, ok=True) if u.lead_key in self.ok else
                WriteResult(u.key, ok=False, error="UNABLE_TO_LOCK_ROW", retryable=True) for u in updates]


def _per_row_plan(store: StateStore, connection: str, run_id: int) -> int:
    """The per-row planning as it was before the bulk one: enqueue, then supersede, per lead."""
    from leadsync.core.codec import score_payload
    from leadsync.core.state import scores

    planned = 0
    with store.transaction() as db:
        for lead_key, email, record_id, total, behavior, attribute, segment, version, scored_at, fp in scores.unpushed(
                store.db, connection):
            key = f"score:{connection}:{lead_key}:{record_id}:{fp}:run{run_id}"
            payload = score_payload(lead_key=lead_key, email=email, record_id=record_id, score=total, behavior=behavior,
                                    attribute=attribute, segment=segment, sheet_version=version, scored_at=scored_at,
                                    fingerprint=fp)
            if outbox.enqueue(db, key=key, connection=connection, kind="score", lead_key=lead_key, payload=payload,
                              run_id=run_id):
                outbox.supersede_scores(db, connection, lead_key, key)
                planned += 1
    return planned


def _outbox(store: StateStore) -> list[tuple]:
    return [tuple(r) for r in store.db.execute(
        "SELECT key, connection, kind, lead_key, payload, status, run_id, attempts, error FROM outbox ORDER BY id")] + [
        tuple(r) for r in store.db.execute("SELECT connection, lead_key, fingerprint FROM pushed_scores ORDER BY 2")]


def test_plans_over_several_runs_end_as_the_per_row_plans_did():
    for seed in range(6):
        rng = random.Random(seed)
        stores = [_store(40), _store(40)]
        for run_id in range(1, 6):
            which = rng.sample(range(40), rng.randrange(0, 40))
            total = rng.choice([10, 20, 30])
            sent = rng.sample(range(40), 5)
            counts = []
            for store, plan in zip(stores, (plan_score_pushes, _per_row_plan), strict=True):
                _rescore(store, which, total)
                counts.append(plan(store, "crm", run_id))
                counts.append(plan(store, "crm", run_id))  # planned again in the same run: nothing new
                dispatch(store, {"crm": Answering({f"l{i}@x.jp" for i in sent})}, run_id=run_id)
            assert counts[0] == counts[2] and counts[1] == counts[3] == 0, f"seed {seed} run {run_id}"
            assert _outbox(stores[0]) == _outbox(stores[1]), f"seed {seed} run {run_id}"


def test_recording_a_batch_of_answers_costs_the_same_few_statements_for_any_batch_size(counted):
    costs = []
    for size in (10, 100):
        store = _store(size)
        plan_score_pushes(store, "crm", 1)
        connector = Answering({f"l{i}@x.jp" for i in range(size) if i != 1}, size=size)
        before = counted[0]
        counts = dispatch(store, {"crm": connector}, run_id=1)
        costs.append(counted[0] - before)
        assert (counts.scores_pushed, counts.retry_later) == (size - 1, 1)
        assert store.db.execute("SELECT count(*) FROM pushed_scores").fetchone()[0] == size - 1
        assert store.db.execute("SELECT count(*) FROM outbox WHERE status = 'done'").fetchone()[0] == size - 1
        assert tuple(store.db.execute("SELECT attempts, error FROM outbox WHERE lead_key = 'l1@x.jp'").fetchone()) == (
            1, "UNABLE_TO_LOCK_ROW")
    assert costs[0] == costs[1]


class SlowTasks(RecordingConnector):
    """Task creates that wait (up to WAIT_S) for the engine to do other work while they are out."""

    WAIT_S = 10.0  # far beyond what a healthy run needs; only a regression ever waits this long

    def __init__(self) -> None:
        super().__init__()
        self.batch_sizes = {"scores": 100, "tasks": 2}
        self.worked = threading.Event()
        self.saw_work: list[bool] = []

    def create_tasks(self, requests):
        self.saw_work.append(self.worked.wait(self.WAIT_S))
        return [WriteResult(r.key, ok=True, external_id=f"t-{r.key}") for r in requests]


def _task_rows(store: StateStore, n: int) -> None:
    with store.transaction() as db:
        for i in range(n):
            task = TaskRequest(key=f"task-{i}", lead_key=f"l{i}@x.jp", email=f"l{i}@x.jp", record_id=f"c{i}",
                               owner=None, subject="s", body="b", due_at=datetime(2026, 12, 7, tzinfo=timezone.utc))
            outbox.enqueue(db, key=task.key, connection="crm", kind="task", lead_key=task.lead_key,
                           payload=task_payload(task))


def test_score_pushes_are_planned_while_task_batches_are_out_and_sent_only_once_committed():
    store = _store(25)
    _task_rows(store, 5)
    connector = SlowTasks()
    planner = ScorePlanner(store, "crm", 1, chunk=4)
    steps = []

    def plan_a_chunk() -> bool:
        more = planner.step()
        steps.append(more)
        connector.worked.set()
        return more

    counts = dispatch(store, {"crm": connector}, run_id=1, kinds=("task",), idle=plan_a_chunk)
    assert counts.tasks_created == 5 and len(connector.saw_work) == 3
    assert connector.saw_work[0] is True  # the plan was worked on while the first batch was out
    assert connector.calls == []  # no score was sent with the tasks
    assert planner.finish() == 25 == planner.planned
    assert steps.count(True) <= 7  # ceil(25 / 4) chunks: a chunk is planned once
    pending = outbox.pending(store.db, "crm", "score", 100)
    assert len(pending) == 25 and len({r.lead_key for r in pending}) == 25
    counts = dispatch(store, {"crm": connector}, run_id=1, kinds=("score",))
    assert counts.scores_pushed == 25 and [len(c) for c in connector.calls] == [25]


def test_a_plan_made_a_chunk_at_a_time_ends_as_one_made_at_once():
    stores = [_store(23), _store(23)]
    for store in stores:
        _rescore(store, range(0, 23, 2), 50)
    assert ScorePlanner(stores[0], "crm", 7, chunk=4).finish() == plan_score_pushes(stores[1], "crm", 7) == 23
    assert _outbox(stores[0]) == _outbox(stores[1])


class FirstSendSeen(RecordingConnector):
    """Score batches of 3; the first call tells the test it was made."""

    def __init__(self) -> None:
        super().__init__()
        self.batch_sizes = {"scores": 3, "tasks": 2}
        self.first_send = threading.Event()

    def push_scores(self, updates):
        self.first_send.set()
        return super().push_scores(updates)


def test_score_batches_go_out_while_the_rest_of_the_plan_is_made_each_full_and_each_row_once():
    store = _store(25)
    connector = FirstSendSeen()
    planner = ScorePlanner(store, "crm", 1, chunk=4)
    waited = []

    def plan_a_chunk() -> bool:
        if planner.planned:  # the second chunk waits until the first batch is out
            waited.append(connector.first_send.wait(SlowTasks.WAIT_S))
        return planner.step()

    counts = dispatch(store, {"crm": connector}, run_id=1, kinds=("score",), idle=plan_a_chunk, idle_feeds=True)
    assert waited and all(waited)  # the plan went on while batches were out, none waited in vain
    assert counts.scores_pushed == 25 == planner.planned
    assert [len(c) for c in connector.calls] == [3] * 8 + [1]  # full batches: the plan fills a short one first
    sent = [key for call in connector.calls for key in call]
    assert len(sent) == len(set(sent)) == 25
    assert planner.finish() == 25 and not outbox.pending(store.db, "crm", "score", 100)

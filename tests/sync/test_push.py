"""The outbox: only changed scores are queued, batches respect the vendor maximum, answers are kept."""

from __future__ import annotations

import time
from collections.abc import Sequence

from leadsync.connectors.base import ConnectionSettings, Connector, ScoreUpdate, WriteResult
from leadsync.core.models import Lead
from leadsync.core.state.store import StateStore
from leadsync.core.sync.identity import ingest
from leadsync.core.sync.push import dispatch, plan_score_pushes


class RecordingConnector(Connector):
    name = "recording"
    batch_sizes = {"scores": 3, "tasks": 2}

    def __init__(self, answers=None, fail=False):
        super().__init__("crm", ConnectionSettings(plugin="recording"))
        self.calls: list[list[str]] = []
        self.answers = answers or {}
        self.fail = fail

    def push_scores(self, updates: Sequence[ScoreUpdate]) -> list[WriteResult]:
        if self.fail:
            raise ConnectionError("vendor down")
        self.calls.append([u.key for u in updates])
        return [self.answers.get(u.lead_key, WriteResult(u.key, ok=True, external_id=u.record_id)) for u in updates]


def seeded(new_store, n: int = 7) -> StateStore:
    store = new_store()
    with store.transaction() as db:
        ingest(db, "crm", [Lead(key=f"l{i}@x.jp", email=f"l{i}@x.jp", refs={"crm": f"c{i}"}) for i in range(n)],
               stream="leads", crm_connections={"crm"}, run_id=None)
        for i in range(n):
            db.execute("INSERT INTO scores VALUES (?, ?, 0, ?, 'cold', 'v1', ?, NULL, '[]')",
                       (f"l{i}@x.jp", 10 + i, 10 + i, time.time()))
    return store


def test_only_changed_scores_are_planned_and_batches_use_the_vendor_maximum(new_store):
    store = seeded(new_store, 7)
    connector = RecordingConnector()
    assert plan_score_pushes(store, "crm", None) == 7
    counts = dispatch(store, {"crm": connector}, run_id=None)
    assert counts.scores_pushed == 7
    assert [len(c) for c in connector.calls] == [3, 3, 1]
    assert plan_score_pushes(store, "crm", None) == 0          # nothing changed: nothing to push
    store.db.execute("UPDATE scores SET total = 99, segment = 'hot' WHERE lead_key = 'l2@x.jp'")
    assert plan_score_pushes(store, "crm", None) == 1


def test_rejected_records_are_dead_lettered_and_retryable_ones_stay_pending(new_store):
    store = seeded(new_store, 3)
    answers = {
        "l0@x.jp": WriteResult("k", ok=False, error="INVALID_EMAIL_ADDRESS: bad", retryable=False),
        "l1@x.jp": WriteResult("k", ok=False, error="UNABLE_TO_LOCK_ROW", retryable=True),
    }
    plan_score_pushes(store, "crm", None)
    # answers are matched by key, so fix the keys up
    rows = dict(store.db.execute("SELECT lead_key, key FROM outbox").fetchall())
    for lead_key, result in answers.items():
        result.key = rows[lead_key]
    counts = dispatch(store, {"crm": RecordingConnector(answers)}, run_id=1)
    assert (counts.scores_pushed, counts.dead_lettered, counts.retry_later) == (1, 1, 1)
    statuses = dict(store.db.execute("SELECT lead_key, status FROM outbox").fetchall())
    assert statuses == {"l0@x.jp": "dead", "l1@x.jp": "pending", "l2@x.jp": "done"}
    reason = store.db.execute("SELECT reason FROM dead_letters").fetchone()[0]
    assert reason.startswith("INVALID_EMAIL_ADDRESS")


def test_a_vendor_outage_keeps_everything_pending_for_the_next_run(new_store):
    store = seeded(new_store, 4)
    plan_score_pushes(store, "crm", None)
    counts = dispatch(store, {"crm": RecordingConnector(fail=True)}, run_id=None)
    assert "crm" in counts.failed and counts.scores_pushed == 0
    assert store.db.execute("SELECT COUNT(*) FROM outbox WHERE status = 'pending'").fetchone()[0] == 4
    counts = dispatch(store, {"crm": RecordingConnector()}, run_id=None)
    assert counts.scores_pushed == 4


def test_a_newer_score_supersedes_a_pending_older_one(new_store):
    store = seeded(new_store, 1)
    plan_score_pushes(store, "crm", None)
    store.db.execute("UPDATE scores SET total = 85, segment = 'hot'")
    plan_score_pushes(store, "crm", None)
    connector = RecordingConnector()
    dispatch(store, {"crm": connector}, run_id=None)
    assert len(connector.calls) == 1 and "85|hot|v1" in connector.calls[0][0]


def test_a_connection_not_set_up_keeps_the_batch_pending_and_dead_letters_nothing(new_store):
    from leadsync.connectors.errors import SetupMissing

    class NotSetUp(RecordingConnector):
        def push_scores(self, updates):
            self.calls.append([u.key for u in updates])
            raise SetupMissing("HubSpot contact property leadsync_score", status=400)

    store = seeded(new_store, 5)
    plan_score_pushes(store, "crm", None)
    connector = NotSetUp()
    counts = dispatch(store, {"crm": connector}, run_id=1)
    assert len(connector.calls) == 1  # the first batch stops the connection: no storm of calls
    assert "leadsync_score" in counts.failed["crm"] and "leadsync connections setup crm" in counts.failed["crm"]
    assert (counts.dead_lettered, counts.scores_pushed) == (0, 0)
    rows = store.db.execute("SELECT status, sends, sent_at FROM outbox").fetchall()
    assert [tuple(r) for r in rows] == [("pending", 0, None)] * 5  # as if never sent: nothing to reconcile
    assert store.db.execute("SELECT COUNT(*) FROM dead_letters").fetchone()[0] == 0
    counts = dispatch(store, {"crm": RecordingConnector()}, run_id=2)
    assert counts.scores_pushed == 5

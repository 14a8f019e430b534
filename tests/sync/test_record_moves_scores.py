"""Score updates are planned per record of a connection: one still pending when its record moves to
another lead is superseded (the old lead's score is not that record's any more), the lead it moves
into is planned again for it, and two records of one connection sharing a lead each get one.
Both backends."""

from __future__ import annotations

from leadsync.core.models import Lead
from leadsync.core.state import outbox, scores
from leadsync.core.sync.identity import ingest as ingest_page
from leadsync.core.sync.push import plan_score_pushes

from .crm_records import crm_lead as _lead, ma_knows as _ma_knows, put_score as _score
from .crm_waits import ingest


def _pending_scores(store) -> list[tuple[str, int, str]]:
    return sorted((r.lead_key, r.payload["score"], r.payload["record_id"])
                  for r in outbox.pending(store.db, "crm", "score", 100))


def test_a_score_update_planned_for_the_record_under_its_old_lead_is_superseded_when_it_moves(new_store):
    """Otherwise the old lead's stale score, addressed to the same contact, stays pending beside the
    new lead's: sent in another batch (or retried a run later) it can land last and overwrite it."""
    store = new_store()
    ingest(store, [_lead("C1", None)], stream="leads")
    with store.transaction() as db:
        _score(db, "crm:C1", 10)
    assert plan_score_pushes(store, "crm", run_id=1) == 1

    ingest(store, [_lead("C1", "found@x.jp")], stream="leads", run_id=2)
    with store.transaction() as db:
        _score(db, "found@x.jp", 90)
    plan_score_pushes(store, "crm", run_id=2)
    assert _pending_scores(store) == [("found@x.jp", 90, "C1")]


def test_a_score_update_for_the_old_lead_stays_when_the_moving_record_is_another(new_store):
    store = new_store()
    _ma_knows(store, "old@x.jp")
    ingest(store, [_lead("C1", "old@x.jp")], stream="leads")
    with store.transaction() as db:
        _score(db, "old@x.jp", 10)
    plan_score_pushes(store, "crm", run_id=1)
    with store.transaction() as db:  # the MA record moves: the CRM update of old@ stands
        ingest_page(db, "ma", [Lead(key="new@x.jp", email="new@x.jp", refs={"ma": "M1"})], stream="leads",
                    crm_connections={"crm"}, run_id=2)
    assert _pending_scores(store) == [("old@x.jp", 10, "C1")]


def test_every_record_of_the_lead_in_the_connection_gets_its_score(new_store):
    """Two contacts of one connection share an e-mail (one lead): each is a record of the CRM whose
    score field shows the lead's score, so an update is planned for each."""
    store = new_store()
    ingest(store, [_lead("C1", "a@x.jp"), _lead("C2", "a@x.jp")], stream="leads")
    with store.transaction() as db:
        _score(db, "a@x.jp", 70)
    plan_score_pushes(store, "crm", run_id=1)
    assert _pending_scores(store) == [("a@x.jp", 70, "C1"), ("a@x.jp", 70, "C2")]


def test_a_record_that_moves_into_a_lead_whose_score_was_pushed_gets_that_score(new_store):
    store = new_store()
    ingest(store, [_lead("C1", None), _lead("C3", "taken@x.jp")], stream="leads")
    with store.transaction() as db:
        _score(db, "crm:C1", 10)
        _score(db, "taken@x.jp", 50)
    plan_score_pushes(store, "crm", run_id=1)
    with store.transaction() as db:  # both acknowledged
        db.execute("UPDATE outbox SET status = 'done'")
        for lead_key, *_rest, fp in scores.unpushed(db, "crm"):
            scores.record_pushed(db, "crm", lead_key, fp)
    assert plan_score_pushes(store, "crm", run_id=2) == 0

    ingest(store, [_lead("C1", "taken@x.jp")], stream="leads", run_id=3)  # taken@'s score does not change
    plan_score_pushes(store, "crm", run_id=3)
    assert _pending_scores(store) == [("taken@x.jp", 50, "C1"), ("taken@x.jp", 50, "C3")]


def test_a_new_record_joining_a_lead_whose_score_was_pushed_gets_that_score(new_store):
    """Not a move: a second contact with the lead's e-mail is created in the CRM later. Both paths
    (a page of leads stored together, and one by one)."""
    for one_by_one in (False, True):
        store = new_store()
        _ma_knows(store, "a@x.jp")  # another system knows the person: the page path merges views
        ingest(store, [_lead("C1", "a@x.jp")], stream="leads")
        with store.transaction() as db:
            _score(db, "a@x.jp", 70)
        plan_score_pushes(store, "crm", run_id=1)
        with store.transaction() as db:  # acknowledged
            db.execute("UPDATE outbox SET status = 'done'")
            for lead_key, *_rest, fp in scores.unpushed(db, "crm"):
                scores.record_pushed(db, "crm", lead_key, fp)
        assert plan_score_pushes(store, "crm", run_id=2) == 0

        ingest(store, [_lead("C2", "a@x.jp")], stream="leads", run_id=3, one_by_one=one_by_one)
        plan_score_pushes(store, "crm", run_id=3)
        pending = _pending_scores(store)
        assert ("a@x.jp", 70, "C2") in pending, (one_by_one, pending)

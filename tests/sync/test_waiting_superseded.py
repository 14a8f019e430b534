"""A waiting activity and a later read of the same activity: the later read wins, whichever way
round. A read that places the activity under a stored lead ends its wait (no dead letter for an
activity that is stored); a read that makes it wait again for another lead is placed under that
lead when it comes (never left under the lead an older read named)."""

from __future__ import annotations

import time
from datetime import datetime, timezone

import pytest
from leadsync.core.models import Activity, ActivityType
from leadsync.core.state import leads, waiting

from .crm_waits import after_pull, ingest, lead

T0 = datetime(2026, 10, 1, tzinfo=timezone.utc)


def _call(source_id: str, record_id: str, **kw) -> Activity:
    return Activity(source_id=source_id, lead_record_id=record_id, type=ActivityType.CALL, occurred_at=T0, **kw)





def _stored(store, source_id: str) -> tuple[str, Activity]:
    key, data = store.db.execute("SELECT lead_key, data FROM activities WHERE source_id = ?", (source_id,)).fetchone()
    return key, Activity.model_validate_json(data)


def _dead(store) -> int:
    return store.db.execute("SELECT COUNT(*) FROM dead_letters").fetchone()[0]


def _dirty(store) -> set[str]:
    return leads.dirty_keys(store.db)


def _clean(store) -> None:
    with store.transaction() as db:
        leads.clear_dirty(db)


@pytest.mark.parametrize("one_by_one", [False, True], ids=["page", "one-by-one"])
def test_an_activity_stored_by_a_later_read_is_no_dead_letter(new_store, one_by_one):
    """Kept for 00Q9 (say a contact created while run 1 read, then merged into 00Q1 in the CRM):
    the next read names 00Q1, which is stored, and stores it there; 00Q9 never comes."""
    store = new_store()
    ingest(store, [lead("00Q1", "known@x.jp")], stream="leads", run_id=1)
    ingest(store, [_call("c1", "00Q9")], stream="activities", run_id=1)
    assert after_pull(store, 1, kept_before=0.0) == (0, 0)
    ingest(store, [_call("c1", "00Q1", outcome="connected")], stream="activities", run_id=2, one_by_one=one_by_one)
    assert _stored(store, "c1")[0] == "known@x.jp"
    placed, dead = after_pull(store, 3, kept_before=time.time() + 3600)  # well past every look-back
    assert (placed, dead, _dead(store)) == (0, 0, 0), "an activity that is stored is not a dead letter"
    assert waiting.count(store.db) == 0
    key, activity = _stored(store, "c1")
    assert (key, activity.outcome) == ("known@x.jp", "connected")


@pytest.mark.parametrize("one_by_one", [False, True], ids=["page", "one-by-one"])
def test_an_activity_moved_to_a_lead_not_stored_yet_is_placed_under_that_lead(new_store, one_by_one):
    """Stored under 00Q1; the CRM then moves it to 00Q9 (created while run 2 read): the newer read
    waits for 00Q9, no longer counts for 00Q1 meanwhile, and when 00Q9 comes is placed under it,
    with its newer content."""
    store = new_store()
    ingest(store, [lead("00Q1", "old@x.jp")], stream="leads", run_id=1)
    ingest(store, [_call("c1", "00Q1", outcome="no answer")], stream="activities", run_id=1)
    _clean(store)
    ingest(store, [_call("c1", "00Q9", outcome="connected")], stream="activities", run_id=2, one_by_one=one_by_one)
    assert waiting.count(store.db) == 1
    assert store.db.execute("SELECT COUNT(*) FROM activities").fetchone()[0] == 0, "not left under 00Q1"
    assert _dirty(store) == {"old@x.jp"}, "00Q1 is rescored without it"
    assert after_pull(store, 2, kept_before=0.0) == (0, 0)
    ingest(store, [lead("00Q9", "new@x.jp")], stream="leads", run_id=3)
    assert after_pull(store, 3, kept_before=0.0)[1] == 0
    key, activity = _stored(store, "c1")
    assert (key, activity.outcome) == ("new@x.jp", "connected"), "the newer read, under the lead it names"
    assert waiting.count(store.db) == 0 and _dead(store) == 0


@pytest.mark.parametrize("one_by_one", [False, True], ids=["page", "one-by-one"])
def test_the_lead_an_activity_moves_away_from_is_rescored_too(new_store, one_by_one):
    """Its score counted the activity: moved straight to another stored lead, or placed under a
    lead that came later, both leads are rescored; a plain update rescores its one lead."""
    store = new_store()
    ingest(store, [lead("00Q1", "first@x.jp"), lead("00Q2", "second@x.jp")], stream="leads", run_id=1)
    ingest(store, [_call("c1", "00Q1")], stream="activities", run_id=1)
    _clean(store)
    ingest(store, [_call("c1", "00Q1", outcome="connected")], stream="activities", run_id=2, one_by_one=one_by_one)
    assert _dirty(store) == {"first@x.jp"}
    _clean(store)
    ingest(store, [_call("c1", "00Q2", outcome="connected")], stream="activities", run_id=2, one_by_one=one_by_one)
    assert _dirty(store) == {"first@x.jp", "second@x.jp"}
    _clean(store)
    ingest(store, [_call("c1", "00Q9", outcome="connected")], stream="activities", run_id=3, one_by_one=one_by_one)
    assert _dirty(store) == {"second@x.jp"}, "left when the read named a lead not stored yet"
    ingest(store, [lead("00Q9", "third@x.jp")], stream="leads", run_id=3)
    _clean(store)
    assert after_pull(store, 3, kept_before=0.0) == (1, 0)
    assert _stored(store, "c1")[0] == "third@x.jp" and _dirty(store) == {"third@x.jp"}

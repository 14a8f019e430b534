"""An activity answered before its lead waits for it: placed by the run that stores the lead, a
dead letter only once the reads that would have brought the lead are done."""

from __future__ import annotations

import time
from datetime import datetime, timezone

import pytest
from leadsync.core.models import Activity, ActivityType
from leadsync.core.state import leads, waiting
from leadsync.core.sync.latecomers import expire_waiting

from .crm_waits import after_pull, ingest, lead

T0 = datetime(2026, 10, 1, tzinfo=timezone.utc)


def _call(source_id: str, record_id: str | None, **kw) -> Activity:
    return Activity(source_id=source_id, lead_record_id=record_id, type=ActivityType.CALL, occurred_at=T0, **kw)





def _stored(store) -> dict[str, tuple[str, str]]:
    return {r[0]: (r[1], r[2]) for r in store.db.execute("SELECT source_id, lead_key, data FROM activities")}


@pytest.mark.parametrize("repeat", [False, True], ids=["page", "page-with-a-repeated-id"])
def test_an_activity_before_its_lead_waits_then_is_placed_and_its_lead_rescored(new_store, repeat):
    store = new_store()
    ingest(store, [lead("00Q1", "known@x.jp")], stream="leads")
    page = [_call("c1", "00Q9", duration_seconds=60), _call("c2", "00Q1")] + ([_call("c1", "00Q9")] if repeat else [])
    counts = ingest(store, page, stream="activities")
    assert (counts.waiting, counts.rejected, counts.new_activities) == ((2, 0, 1) if repeat else (1, 0, 1))
    assert set(_stored(store)) == {"c2"} and waiting.count(store.db) == 1
    assert store.db.execute("SELECT COUNT(*) FROM dead_letters").fetchone()[0] == 0
    assert after_pull(store, 1) == (0, 0), "kept by this run: it waits"

    ingest(store, [lead("00Q9", "late@x.jp")], stream="leads", run_id=2)
    with store.transaction() as db:
        leads.clear_dirty(db)
    assert after_pull(store, 2) == (1, 0)
    lead_key, data = _stored(store)["c1"]
    assert lead_key == "late@x.jp" and Activity.model_validate_json(data).connection == "crm"
    assert waiting.count(store.db) == 0
    dirty = leads.dirty_keys(store.db)
    assert dirty == {"late@x.jp"}, "the lead is rescored with its activity"


def test_a_waiting_activity_read_again_after_its_lead_keeps_the_newer_read(new_store):
    store = new_store()
    ingest(store, [_call("c1", "00Q9", outcome="no answer")], stream="activities", run_id=1)
    ingest(store, [lead("00Q9", "late@x.jp")], stream="leads", run_id=2)
    ingest(store, [_call("c1", "00Q9", outcome="connected")], stream="activities", run_id=2)
    assert after_pull(store, 2) == (0, 0)
    assert Activity.model_validate_json(_stored(store)["c1"][1]).outcome == "connected"
    assert waiting.count(store.db) == 0


def test_a_lead_no_read_brought_makes_its_activity_a_dead_letter_once_the_reads_that_would_have_are_done(new_store):
    store = new_store()
    ingest(store, [_call("c1", "00Q9")], stream="activities_calls", run_id=1)
    kept = store.db.execute("SELECT seen_at FROM waiting_activities").fetchone()[0]
    assert after_pull(store, 1, kept_before=time.time() + 3600) == (0, 0), "kept by this run: it waits"
    ingest(store, [_call("c1", "00Q9")], stream="activities_calls", run_id=2)  # re-read: still first kept by run 1
    assert tuple(store.db.execute("SELECT seen_at, run_id FROM waiting_activities").fetchone()) == (kept, 1)
    assert after_pull(store, 2, kept_before=kept) == (0, 0), "kept after the previous run's start less the look-back"
    with store.transaction() as db:
        assert expire_waiting(db, ["other"], 2, kept + 1) == 0, "only the connections this run read completely"
    assert after_pull(store, 2, kept_before=kept + 1) == (0, 1)
    row = store.db.execute("SELECT connection, kind, record_key, reason FROM dead_letters").fetchone()
    assert tuple(row) == ("crm", "activities_calls", "c1", "activity c1: no lead with record id '00Q9' in crm, "
                                                           "though the reads since it came would have brought it")
    assert waiting.count(store.db) == 0 and _stored(store) == {}


def test_a_waiting_activity_moved_to_another_lead_waits_from_the_read_that_named_that_lead(new_store):
    """The wait of a lead starts with the read that names it, not with the first read of the record."""
    store = new_store()
    ingest(store, [_call("c1", "00Q9")], stream="activities", run_id=1)
    with store.transaction() as db:  # kept long ago
        db.execute("UPDATE waiting_activities SET seen_at = seen_at - 86400")
    moved = time.time()
    ingest(store, [_call("c1", "00Q8")], stream="activities", run_id=5)
    assert after_pull(store, 5, kept_before=moved - 60) == (0, 0)
    assert after_pull(store, 6, kept_before=time.time() + 1) == (0, 1), "once its reads are done, a dead letter"

"""A lead record that moves to another identity, attacked: the open episode whose task is on the
record follows it, whether or not the lead it left stays (another system knows that person); the
activities of the page that moves it all end under its new lead. Both backends."""

from __future__ import annotations

from datetime import datetime, timezone

from leadsync.core.models import Lead
from leadsync.core.state import activities, handoffs
from leadsync.core.sync.identity import ingest as ingest_page

from .crm_records import call as _call, crm_lead as _lead, ma_knows as _ma_knows, open_episode as _open
from .crm_waits import ingest

T0 = datetime(2026, 10, 1, tzinfo=timezone.utc)


def test_the_open_episode_of_the_crm_record_follows_it_when_the_ma_keeps_the_old_lead(new_store):
    """The task is on the CRM record: its episode goes where the record goes, else the new lead has
    no open episode (a second task for the same contact) and the rep's call on the record never
    counts as the first touch of the episode (an overdue notice for a lead that was called)."""
    store = new_store()
    _ma_knows(store, "old@x.jp")
    ingest(store, [_lead("C1", "old@x.jp")], stream="leads")
    with store.transaction() as db:
        _open(db, "old@x.jp", "ls-1")

    ingest(store, [_lead("C1", "new@x.jp")], stream="leads", run_id=2)
    ingest(store, [_call("t1", "C1", at=datetime(2026, 10, 2, tzinfo=timezone.utc))], stream="activities", run_id=2)
    episode = handoffs.open_for_lead(store.db, "new@x.jp")
    assert episode is not None and episode["task_key"] == "ls-1", "the open task stands: no second one"
    assert handoffs.open_for_lead(store.db, "old@x.jp") is None
    assert activities.first_touch(store.db, episode["lead_key"], T0.timestamp(), 2e9) is not None


def test_an_episode_of_another_connection_stays_with_the_lead_that_keeps_its_record(new_store):
    """The MA record moves away; the CRM record (where the task is) stays: so does the episode."""
    store = new_store()
    _ma_knows(store, "old@x.jp")
    ingest(store, [_lead("C1", "old@x.jp")], stream="leads")
    with store.transaction() as db:
        _open(db, "old@x.jp", "ls-1")
        ingest_page(db, "ma", [Lead(key="new@x.jp", email="new@x.jp", refs={"ma": "M1"})], stream="leads",
                    crm_connections={"crm"}, run_id=2)
    assert handoffs.open_for_lead(store.db, "old@x.jp")["task_key"] == "ls-1"
    assert handoffs.open_for_lead(store.db, "new@x.jp") is None


def test_activities_of_the_page_that_moves_the_record_all_end_under_the_new_lead(new_store):
    store = new_store()
    ingest(store, [_lead("C1", None), _call("t1", "C1")], stream="leads")
    ingest(store, [_call("t2", "C1"), _lead("C1", "a@x.jp"), _call("t3", "C1"), _lead("C2", None),
                   _lead("C1", "b@x.jp"), _call("t4", "C1")], stream="leads", run_id=2)
    where = dict(store.db.execute("SELECT source_id, lead_key FROM activities").fetchall())
    assert where == {f"t{i}": "b@x.jp" for i in range(1, 5)}
    assert store.db.execute("SELECT COUNT(*) FROM leads WHERE key IN ('crm:C1', 'a@x.jp')").fetchone()[0] == 0

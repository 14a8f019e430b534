"""A lead record that moves to another identity (it gets its first e-mail, or its e-mail changes)
takes with it what names it by record id: activities and deals read long ago are not read again,
so they must not stay under the lead the record left. Both backends."""

from __future__ import annotations

from datetime import datetime, timezone

from leadsync.core.models import Activity, ActivityType, Lead, Opportunity
from leadsync.core.sync.identity import ingest as ingest_page
from leadsync.core.state import activities, handoffs, leads, quality

from .crm_records import crm_lead as _lead, call as _call, open_episode as _open
from .crm_waits import ingest

T0 = datetime(2026, 10, 1, tzinfo=timezone.utc)


def _deal(source_id: str, record_id: str) -> Opportunity:
    return Opportunity(source_id=source_id, lead_record_id=record_id, created_at=T0)


def _where(store, table: str) -> dict[str, str]:
    return dict(store.db.execute(f"SELECT source_id, lead_key FROM {table}").fetchall())


def _clean(store) -> None:
    with store.transaction() as db:
        leads.clear_dirty(db)


def test_a_record_that_gets_its_first_email_takes_its_activities_and_deals(new_store):
    store = new_store()
    ingest(store, [_lead("C1", None)], stream="leads")
    ingest(store, [_call("t1", "C1"), _call("t2", "C1")], stream="activities")
    ingest(store, [_call("t3", "C1")], stream="activities", one_by_one=True)
    ingest(store, [_deal("d1", "C1")], stream="opportunities")
    assert set(_where(store, "activities").values()) == {"crm:C1"} and _where(store, "opportunities") == {"d1": "crm:C1"}
    _clean(store)

    ingest(store, [_lead("C1", "found@x.jp")], stream="leads", run_id=2)
    assert _where(store, "activities") == {"t1": "found@x.jp", "t2": "found@x.jp", "t3": "found@x.jp"}
    assert _where(store, "opportunities") == {"d1": "found@x.jp"}
    assert leads.load(store.db, "crm:C1") is None and leads.dirty_keys(store.db) == {"found@x.jp"}
    assert [a.source_id for a in activities.for_lead(store.db, "found@x.jp")] == ["t1", "t2", "t3"]
    lead_id = store.db.execute("SELECT rowid FROM leads WHERE key = 'found@x.jp'").fetchone()[0]
    assert {r[0] for r in store.db.execute("SELECT lead_id FROM activities")} == {lead_id}

    # Stored as a fresh read stores them: reading them again is no change.
    counts = ingest(store, [_call("t1", "C1"), _call("t2", "C1")], stream="activities", run_id=2)
    assert counts.new_activities == 0
    with store.transaction() as db:
        assert ingest_page(db, "crm", [_deal("d1", "C1")], stream="opportunities", crm_connections={"crm"},
                           run_id=2).rejected == 0
    assert store.db.execute("SELECT COUNT(*) FROM opportunities").fetchone()[0] == 1


def test_an_email_change_moves_what_names_the_record_and_leaves_what_names_the_email(new_store):
    store = new_store()
    with store.transaction() as db:  # the MA knows the person by the old e-mail
        ingest_page(db, "ma", [Lead(key="old@x.jp", email="old@x.jp", refs={"ma": "M1"}),
                               Activity(source_id="m1", type=ActivityType.EMAIL_CLICK, occurred_at=T0, email="old@x.jp")],
                    stream="leads", crm_connections={"crm"}, run_id=1)
    ingest(store, [_lead("C1", "old@x.jp")], stream="leads")
    ingest(store, [_call("t1", "C1"), _call("t2", "C1", email="old@x.jp")], stream="activities")
    _clean(store)

    ingest(store, [_lead("C1", "new@x.jp")], stream="leads", run_id=2)
    assert _where(store, "activities") == {"m1": "old@x.jp", "t1": "new@x.jp", "t2": "old@x.jp"}
    assert leads.dirty_keys(store.db) == {"old@x.jp", "new@x.jp"}, "both scores change"
    assert leads.load(store.db, "old@x.jp") is not None, "the MA still knows that person"


def test_the_episodes_and_score_of_a_lead_that_is_gone_go_with_its_record(new_store):
    store = new_store()
    ingest(store, [_lead("C1", None), _lead("C2", None), _lead("C3", "taken@x.jp")], stream="leads")
    with store.transaction() as db:
        _open(db, "crm:C1", "ls-1")
        _open(db, "crm:C2", "ls-2")
        _open(db, "taken@x.jp", "ls-3")
        db.execute("INSERT INTO scores(lead_key, total, behavior, attribute, segment, sheet_version, scored_at, "
                   "breakdown) VALUES ('crm:C1', 80, 50, 30, 'hot', 'v', 0, '[]')")
        quality.release(db, "crm:C1", by="ops", rules=["no_company"])

    ingest(store, [_lead("C1", "found@x.jp"), _lead("C2", "taken@x.jp")], stream="leads", run_id=2)
    rows = {r["task_key"]: r["lead_key"] for r in handoffs.all_rows(store.db)}
    assert rows["ls-1"] == "found@x.jp", "the open task stands for the same person: no second one"
    assert rows["ls-3"] == "taken@x.jp" and rows["ls-2"] == "taken@x.jp"
    closed = handoffs.by_task_key(store.db, "ls-2")
    assert (closed["status"], closed["close_reason"]) == ("expired", "merged into the open handoff of taken@x.jp"), \
        "one person, one open handoff: the one left behind would never be touched, notified or rejected"
    assert handoffs.open_for_lead(store.db, "taken@x.jp")["task_key"] == "ls-3"
    assert handoffs.open_for_lead(store.db, "found@x.jp")["task_key"] == "ls-1"
    assert store.db.execute("SELECT COUNT(*) FROM scores WHERE lead_key = 'crm:C1'").fetchone()[0] == 0
    assert [tuple(r) for r in store.db.execute("SELECT lead_key, released_by FROM quality_releases")] == [
        ("found@x.jp", "ops")], "let through the quality gate: the same person stays let through"

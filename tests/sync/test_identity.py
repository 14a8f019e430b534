"""Identity across connections, merge rules, and deduplication of re-read records."""

from __future__ import annotations

from datetime import datetime, timezone

from leadsync.connectors.base import Rejected
from leadsync.core.models import Activity, ActivityType, Lead
from leadsync.core.state import leads
from leadsync.core.state.store import StateStore
from leadsync.core.sync.identity import ingest

T0 = datetime(2026, 10, 1, tzinfo=timezone.utc)
T1 = datetime(2026, 10, 2, tzinfo=timezone.utc)


def lead(conn: str, rid: str, email: str | None, **kw) -> Lead:
    return Lead(key=email or f"{conn}:{rid}", email=email, refs={conn: rid}, **kw)


def put(store: StateStore, conn: str, records, crm=("crm",)):
    with store.transaction() as db:
        return ingest(db, conn, records, stream="leads", crm_connections=set(crm), run_id=None)


def merged(store: StateStore, key: str) -> Lead:
    return Lead.model_validate_json(store.db.execute("SELECT data FROM leads WHERE key = ?", (key,)).fetchone()[0])


def test_same_person_in_two_systems_is_one_lead_with_both_refs(new_store):
    store = new_store()
    put(store, "ma", [lead("ma", "m1", "Taro.Yamada@Example.co.jp", title="部長", updated_at=T1, owner="ma-owner")])
    put(store, "crm", [lead("crm", "c9", "taro.yamada@example.co.jp", title="Manager", updated_at=T0,
                            owner="005A", status="Working")])
    assert store.db.execute("SELECT COUNT(*) FROM leads").fetchone()[0] == 1
    result = merged(store, "taro.yamada@example.co.jp")
    assert result.refs == {"ma": "m1", "crm": "c9"}
    assert result.owner == "005A"          # the CRM wins owner and status
    assert result.status == "Working"
    assert result.title == "部長"           # otherwise the most recently updated value wins


def test_rereading_an_unchanged_record_does_not_mark_the_lead_dirty(new_store):
    store = new_store()
    record = lead("crm", "c1", "a@example.com", company="Acme", updated_at=T0)
    assert put(store, "crm", [record]).changed_leads == 1
    leads.clear_dirty(store.db)
    assert put(store, "crm", [record]).changed_leads == 0
    assert not leads.dirty_keys(store.db)
    assert put(store, "crm", [record.model_copy(update={"company": "Acme KK"})]).changed_leads == 1


def test_activities_are_deduplicated_and_resolved_by_record_id(new_store):
    store = new_store()
    put(store, "ma", [lead("ma", "42", "b@example.com")])
    act = Activity(source_id="a1", lead_record_id="42", type=ActivityType.EMAIL_OPEN, occurred_at=T0)
    with store.transaction() as db:
        first = ingest(db, "ma", [act, act], stream="activities", crm_connections=set(), run_id=None)
    assert first.new_activities == 1
    row = store.db.execute("SELECT lead_key, type FROM activities").fetchone()
    assert tuple(row) == ("b@example.com", "email_open")


def test_unplaceable_activity_and_rejected_rows_become_dead_letters(new_store):
    store = new_store()
    orphan = Activity(source_id="x", type=ActivityType.CALL, occurred_at=T0)  # names no lead at all
    with store.transaction() as db:
        counts = ingest(db, "ma", [orphan, Rejected("leads.csv:3", "column email: 'foo' is not an e-mail")],
                        stream="activities", crm_connections=set(), run_id=7)
    assert counts.rejected == 2
    reasons = [r[0] for r in store.db.execute("SELECT reason FROM dead_letters ORDER BY id")]
    assert reasons[0] == "activity x: no e-mail and no lead record id"
    assert reasons[1] == "column email: 'foo' is not an e-mail"


def test_a_lead_without_email_is_keyed_by_connection_and_record(new_store):
    store = new_store()
    put(store, "crm", [lead("crm", "c5", None, company="名無し株式会社")])
    assert store.db.execute("SELECT key FROM leads").fetchone()[0] == "crm:c5"


def test_the_echo_of_our_own_write_is_not_a_change(new_store):
    """Writing a score stamps the CRM record as modified; reading it back changes nothing."""
    store = new_store()
    put(store, "crm", [lead("crm", "c1", "a@example.com", company="Acme", updated_at=T0)])
    leads.clear_dirty(store.db)
    echo = lead("crm", "c1", "a@example.com", company="Acme", updated_at=T1)
    assert put(store, "crm", [echo]).changed_leads == 0
    assert not leads.dirty_keys(store.db)

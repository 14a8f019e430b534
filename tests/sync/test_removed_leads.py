"""A lead record the vendor deleted or merged away (`RemovedLead`) is forgotten: its lead is
rebuilt from the records left or deleted with its score; a merged record's activities, deals and
episodes go to the survivor's lead; a deleted lead's open episode is closed. Both backends."""

from __future__ import annotations

from datetime import datetime, timezone

from leadsync.connectors import RemovedLead
from leadsync.core.models import Lead, Opportunity
from leadsync.core.state import handoffs, leads
from leadsync.core.sync.identity import ingest as ingest_page

from .crm_records import call as _call, crm_lead as _lead, open_episode as _open, put_score as _score
from .crm_waits import ingest

T0 = datetime(2026, 10, 1, tzinfo=timezone.utc)


def test_a_deleted_record_takes_its_lead_score_and_open_episode_away(new_store):
    store = new_store()
    ingest(store, [_lead("C1", "gone@x.jp"), _lead("C2", "kept@x.jp")], stream="leads")
    ingest(store, [_call("t1", "C1")], stream="activities")
    with store.transaction() as db:
        _open(db, "gone@x.jp", "ls-1")
        _score(db, "gone@x.jp")

    counts = ingest(store, [RemovedLead("C1"), RemovedLead("never-stored")], stream="leads", run_id=2)
    assert counts.removed == 1, "an id never stored is ignored"
    assert leads.load(store.db, "gone@x.jp") is None and leads.known_lead(store.db, "crm", "C1") is None
    assert store.db.execute("SELECT COUNT(*) FROM scores WHERE lead_key = 'gone@x.jp'").fetchone()[0] == 0
    row = handoffs.by_task_key(store.db, "ls-1")
    assert (row["status"], row["close_reason"]) == ("expired", "the lead's record was deleted in crm")
    assert leads.load(store.db, "kept@x.jp") is not None

    # Restored from the vendor's recycle bin and read again: an ordinary new lead.
    ingest(store, [_lead("C1", "gone@x.jp")], stream="leads", run_id=3)
    assert leads.known_lead(store.db, "crm", "C1") == "gone@x.jp"


def test_a_record_merged_into_another_gives_the_survivor_its_activities_deals_and_episodes(new_store):
    store = new_store()
    ingest(store, [_lead("C1", "second@x.jp"), _lead("C2", "primary@x.jp")], stream="leads")
    ingest(store, [_call("t1", "C1"), _call("t2", "C2")], stream="activities")
    ingest(store, [Opportunity(source_id="d1", lead_record_id="C1", created_at=T0)], stream="opportunities")
    with store.transaction() as db:
        _open(db, "second@x.jp", "ls-1")
        _score(db, "second@x.jp")
        leads.clear_dirty(db)

    # HubSpot-like: the survivor is read with the merge, then the removal of the other record.
    counts = ingest(store, [_lead("C2", "primary@x.jp", title="部長"), RemovedLead("C1", merged_into="C2")],
                    stream="leads", run_id=2)
    assert counts.removed == 1
    assert leads.load(store.db, "second@x.jp") is None
    assert dict(store.db.execute("SELECT source_id, lead_key FROM activities").fetchall()) == {
        "t1": "primary@x.jp", "t2": "primary@x.jp"}
    assert [tuple(r) for r in store.db.execute("SELECT lead_key FROM opportunities")] == [("primary@x.jp",)]
    assert handoffs.open_for_lead(store.db, "primary@x.jp")["task_key"] == "ls-1", "the same person: no second task"
    assert store.db.execute("SELECT COUNT(*) FROM scores WHERE lead_key = 'second@x.jp'").fetchone()[0] == 0
    assert leads.dirty_keys(store.db) == {"primary@x.jp"}


def test_a_removed_record_of_a_person_another_system_knows_leaves_the_lead_rebuilt_from_the_rest(new_store):
    store = new_store()
    with store.transaction() as db:
        ingest_page(db, "ma", [Lead(key="a@x.jp", email="a@x.jp", refs={"ma": "M1"}, company="MA社")],
                    stream="leads", crm_connections={"crm"}, run_id=1)
    ingest(store, [_lead("C1", "a@x.jp", owner="005", status="Working")], stream="leads")
    with store.transaction() as db:
        _open(db, "a@x.jp", "ls-1")
        leads.clear_dirty(db)
    assert leads.load(store.db, "a@x.jp").owner == "005"

    ingest(store, [RemovedLead("C1")], stream="leads", run_id=2)
    lead = leads.load(store.db, "a@x.jp")
    assert lead is not None and lead.owner is None and lead.status is None, "the CRM's fields went with its record"
    assert lead.company == "MA社" and set(lead.refs) == {"ma"}
    assert leads.dirty_keys(store.db) == {"a@x.jp"}
    row = handoffs.by_task_key(store.db, "ls-1")
    assert (row["status"], row["close_reason"]) == ("expired", "the lead's record was deleted in crm"), \
        "its task was on the deleted CRM record"


def test_a_removed_record_leaves_the_episodes_of_other_connections_and_supersedes_its_pending_scores(new_store):
    from leadsync.core.state import outbox

    store = new_store()
    with store.transaction() as db:
        ingest_page(db, "ma", [Lead(key="a@x.jp", email="a@x.jp", refs={"ma": "M1"})],
                    stream="leads", crm_connections={"crm"}, run_id=1)
    ingest(store, [_lead("C1", "a@x.jp"), _lead("C2", "a@x.jp")], stream="leads")
    with store.transaction() as db:
        _open(db, "a@x.jp", "ls-1")  # its task is in "crm", which still has C2 for this person
        for record in ("C1", "C2"):
            outbox.enqueue(db, key=f"score-{record}", connection="crm", kind="score", lead_key="a@x.jp",
                           payload={"record_id": record, "score": 80})
    ingest(store, [RemovedLead("C1")], stream="leads", run_id=2)
    assert handoffs.open_for_lead(store.db, "a@x.jp")["task_key"] == "ls-1", "C2 is still the person's CRM record"
    statuses = dict(store.db.execute("SELECT key, status FROM outbox").fetchall())
    assert statuses == {"score-C1": "superseded", "score-C2": "pending"}, "no score is sent to a deleted record"


def test_records_waiting_for_a_removed_record_wait_for_its_survivor_or_are_forgotten(new_store):
    from leadsync.core.state import waiting

    from .crm_waits import after_pull

    store = new_store()
    ingest(store, [_lead("C2", "primary@x.jp")], stream="leads")
    counts = ingest(store, [_call("t7", "C7"), _call("t8", "C8")], stream="activities")
    assert counts.waiting == 2, "neither lead is stored"
    ingest(store, [RemovedLead("C7"), RemovedLead("C8", merged_into="C2")], stream="leads", run_id=2)
    assert waiting.count(store.db) == 1
    assert after_pull(store, 2) == (1, 0)
    assert dict(store.db.execute("SELECT source_id, lead_key FROM activities").fetchall()) == {"t8": "primary@x.jp"}
    assert after_pull(store, 5, kept_before=1e12) == (0, 0), "the deleted record's activity is no dead letter"


def _open_with_task(db, lead_key: str, key: str, record_id: str) -> None:
    """An open episode whose task is planned and not sent yet (the last run's send failed, or was
    cut off)."""
    from leadsync.core.state import outbox

    _open(db, lead_key, key)
    assert outbox.enqueue(db, key=key, connection="crm", kind="task", lead_key=lead_key,
                          payload={"key": key, "lead_key": lead_key, "email": lead_key, "record_id": record_id,
                                   "owner": "005", "subject": "s", "body": "b", "due_at": T0.isoformat()})


def _tasks(store) -> dict[str, tuple[str, str, str | None]]:
    import json

    return {key: (status, lead_key, json.loads(payload).get("record_id")) for key, status, lead_key, payload in
            store.db.execute("SELECT key, status, lead_key, payload FROM outbox WHERE kind = 'task'").fetchall()}


def test_a_task_not_sent_yet_never_goes_to_a_deleted_record(new_store):
    store = new_store()
    ingest(store, [_lead("C1", "gone@x.jp")], stream="leads")
    with store.transaction() as db:
        _open_with_task(db, "gone@x.jp", "ls-1", "C1")
    ingest(store, [RemovedLead("C1")], stream="leads", run_id=2)
    assert handoffs.by_task_key(store.db, "ls-1")["status"] == "expired"
    assert _tasks(store) == {"ls-1": ("superseded", "gone@x.jp", "C1")}, \
        "the vendor refuses a task on a deleted record for good: it would be a dead letter every time"


def test_a_task_not_sent_yet_goes_to_the_record_its_record_was_merged_into(new_store):
    store = new_store()
    ingest(store, [_lead("C1", "second@x.jp"), _lead("C2", "primary@x.jp")], stream="leads")
    with store.transaction() as db:
        _open_with_task(db, "second@x.jp", "ls-1", "C1")
    ingest(store, [_lead("C2", "primary@x.jp"), RemovedLead("C1", merged_into="C2")], stream="leads", run_id=2)
    assert handoffs.open_for_lead(store.db, "primary@x.jp")["task_key"] == "ls-1"
    assert _tasks(store) == {"ls-1": ("pending", "primary@x.jp", "C2")}, "the merged-away record is deleted"


def test_a_task_not_sent_yet_of_an_episode_closed_by_a_merge_is_not_sent(new_store):
    store = new_store()
    ingest(store, [_lead("C1", "second@x.jp"), _lead("C2", "primary@x.jp")], stream="leads")
    with store.transaction() as db:
        _open_with_task(db, "second@x.jp", "ls-1", "C1")
        _open_with_task(db, "primary@x.jp", "ls-2", "C2")
    ingest(store, [_lead("C2", "primary@x.jp"), RemovedLead("C1", merged_into="C2")], stream="leads", run_id=2)
    assert handoffs.by_task_key(store.db, "ls-1")["status"] == "expired"
    assert _tasks(store) == {"ls-1": ("superseded", "primary@x.jp", "C1"), "ls-2": ("pending", "primary@x.jp", "C2")}, \
        "one person, one task"


def test_a_task_not_sent_yet_of_an_episode_closed_by_a_new_email_is_not_sent(new_store):
    store = new_store()
    ingest(store, [_lead("C1", "old@x.jp"), _lead("C2", "new@x.jp")], stream="leads")
    with store.transaction() as db:
        _open_with_task(db, "old@x.jp", "ls-1", "C1")
        _open_with_task(db, "new@x.jp", "ls-2", "C2")
    ingest(store, [_lead("C1", "new@x.jp")], stream="leads", run_id=2)  # the record's e-mail changed
    assert handoffs.by_task_key(store.db, "ls-1")["status"] == "expired"
    assert _tasks(store)["ls-1"][0] == "superseded", "a second task for the person, on the same record"
    assert _tasks(store)["ls-2"] == ("pending", "new@x.jp", "C2")

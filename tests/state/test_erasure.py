"""`erasure.forget` deletes everything the store holds about a person, and nothing about anyone
else; the newest row of a watermark table is scrubbed rather than deleted. Both backends."""

from __future__ import annotations

from datetime import datetime, timezone

from leadsync.core.models import Activity, ActivityType, Lead, Opportunity
from leadsync.core.state import dead_letters, erasure, handoffs, outbox, quality, waiting

from tests.sync.crm_waits import ingest

T0 = datetime(2026, 10, 1, tzinfo=timezone.utc)
PEOPLE = ("forget.me@x.jp", "keep@x.jp")


def _fill(store) -> None:
    """Two people with a row in every table that names a person; forget.me's rows come last."""
    for email in reversed(PEOPLE):
        record = "C-" + email[0]
        ingest(store, [Lead(key=email, email=email, refs={"crm": record})], stream="leads")
        ingest(store, [Activity(source_id=f"a-{email}", type=ActivityType.CALL, occurred_at=T0, lead_record_id=record),
                       Opportunity(source_id=f"o-{email}", lead_record_id=record, created_at=T0)], stream="activities")
        with store.transaction() as db:
            waiting.keep(db, [("crm", f"w-{email}", record, "activities", "{}", T0.timestamp(), None)])
            for at in (1.0, 2.0):
                db.execute("INSERT INTO score_history(lead_key, at, total, segment, reason, sheet_version) "
                           "VALUES (?, ?, 80, 'hot', 'test', 'v')", (email, at))
            db.execute("INSERT INTO scores(lead_key, total, behavior, attribute, segment, sheet_version, scored_at, "
                       "breakdown) VALUES (?, 80, 50, 30, 'hot', 'v', 0, '[]')", (email,))
            db.execute("INSERT INTO pushed_scores(connection, lead_key, fingerprint, pushed_at) VALUES ('crm', ?, 'f', 0)",
                       (email,))
            handoffs.insert(db, lead_key=email, connection="crm", owner="sato", score=80, segment="hot",
                            opened_at=T0.timestamp(), due_at=T0.timestamp() + 3600, task_key=f"ls-{email}",
                            reasons=[], opened_status=None)
            handoffs.save_orphan(db, task_key=f"ls-old-{email}", connection="crm", lead_key=None, email=email,
                                 record_id=None, completed_at=0.0)
            quality.release(db, email, by="ops", rules=["r"])
            dead_letters.add(db, run_id=None, connection="crm", kind="leads", key=record, reason="bad", payload={})
            dead_letters.add(db, run_id=None, connection="ma", kind="leads", key="leads.csv:9", reason="bad",
                             payload={"email": email.upper(), "name": "x"})
            outbox.enqueue(db, key=f"notice:{email}", connection="notify:ops", kind="notice", lead_key="",
                           payload={"event": "dead_letters", "data": {"sample": email.title()}})
            outbox.enqueue(db, key=f"task:{email}", connection="crm", kind="task", lead_key=email, payload={"x": 1})


def _rows(store, email: str) -> dict[str, int]:
    db = store.db
    count = lambda sql, *args: db.execute(sql, args).fetchone()[0]  # noqa: E731
    return {
        "leads": count("SELECT COUNT(*) FROM leads WHERE key = ?", email),
        "lead_refs": count("SELECT COUNT(*) FROM lead_refs WHERE lead_key = ?", email),
        "by_lead_key": sum(count(f"SELECT COUNT(*) FROM {t} WHERE lead_key = ?", email) for t in (
            "activities", "opportunities", "scores", "score_history", "pushed_scores", "handoffs", "outbox",
            "quality_releases")),
        "waiting": count("SELECT COUNT(*) FROM waiting_activities WHERE source_id = ?", f"w-{email}"),
        "orphans": count("SELECT COUNT(*) FROM orphan_completions WHERE email = ?", email),
        "payloads": count("SELECT COUNT(*) FROM dead_letters WHERE lower(payload) LIKE ?", f"%{email}%")
        + count("SELECT COUNT(*) FROM outbox WHERE lower(payload) LIKE ?", f"%{email}%"),
        "record_keys": count("SELECT COUNT(*) FROM dead_letters WHERE record_key = ?", "C-" + email[0]),
    }


def test_forget_deletes_everything_about_the_person_and_nothing_about_anyone_else(new_store):
    store = new_store()
    _fill(store)
    kept_before = _rows(store, "keep@x.jp")
    newest = {t: store.db.execute(f"SELECT MAX(id) FROM {t}").fetchone()[0] for t in ("score_history", "outbox",
                                                                                        "dead_letters")}
    assert all(_rows(store, "forget.me@x.jp").values())

    with store.transaction() as db:
        counts = erasure.forget(db, ["forget.me@x.jp"], [])
    assert _rows(store, "forget.me@x.jp") == dict.fromkeys(kept_before, 0)
    assert _rows(store, "keep@x.jp") == kept_before
    assert counts["leads"] == 1 and counts["activities"] == 1 and counts["dead_letters"] == 2 and counts["outbox"] == 2
    assert set(counts) == set(erasure.TABLES)
    # The newest ids stay taken (scrubbed rows), so a watermark never sees an id twice.
    for table, top in newest.items():
        assert store.db.execute(f"SELECT MAX(id) FROM {table}").fetchone()[0] == top
    assert store.db.execute("SELECT status, payload FROM outbox WHERE id = ?", (newest["outbox"],)).fetchone()[0] \
        == "superseded", "a scrubbed pending write is never sent"

    with store.transaction() as db:  # forgetting again finds nothing
        assert sum(erasure.forget(db, ["forget.me@x.jp"], []).values()) == 0


def test_forget_by_lead_key_for_a_lead_without_email(new_store):
    store = new_store()
    ingest(store, [Lead(key="crm:C9", refs={"crm": "C9"}, company="無名社")], stream="leads")
    ingest(store, [Activity(source_id="a9", type=ActivityType.CALL, occurred_at=T0, lead_record_id="C9")],
           stream="activities")
    with store.transaction() as db:
        counts = erasure.forget(db, [], ["crm:C9"])
    assert (counts["leads"], counts["lead_refs"], counts["activities"]) == (1, 1, 1)
    assert store.db.execute("SELECT COUNT(*) FROM activities").fetchone()[0] == 0


def test_forget_finds_the_email_inside_text_and_writes_planned_under_a_former_key(new_store):
    from leadsync.core.state import dead_letters, outbox

    store = new_store()
    ingest(store, [Lead(key="now@x.jp", email="now@x.jp", refs={"crm": "C1"})], stream="leads")
    with store.transaction() as db:
        # a score update planned while the person was old@x.jp, superseded when the e-mail changed
        outbox.enqueue(db, key="score-old", connection="crm", kind="score", lead_key="old@x.jp",
                       payload={"record_id": "C1", "score": 80})
        dead_letters.add(db, run_id=None, connection="ma", kind="leads", key="leads.csv:3", reason="bad",
                         payload={"note": "山田 <NOW@X.JP> から"})
        dead_letters.add(db, run_id=None, connection="ma", kind="leads", key="leads.csv:4", reason="bad",
                         payload={"email": "snow@x.jp", "other": "now@x.jp.example"})  # other addresses
        outbox.enqueue(db, key="keep", connection="crm", kind="score", lead_key="other@x.jp",
                       payload={"record_id": "C10", "score": 1})
    with store.transaction() as db:
        counts = erasure.forget(db, ["now@x.jp"], [])
    assert counts["outbox"] == 1 and counts["dead_letters"] == 1
    assert [r[0] for r in store.db.execute("SELECT key FROM outbox")] == ["keep"]
    assert [r[0] for r in store.db.execute("SELECT record_key FROM dead_letters")] == ["leads.csv:4"], \
        "snow@x.jp and now@x.jp.example are other addresses"

"""activities.lead_id (migration 6) is always the rowid of the lead its lead_key names, or NULL.

The rescore's scan reads it instead of the key, so a stale id would score an activity for the
wrong lead. Checked on both backends after every kind of write: activities before their lead,
merges of views, a record moving to another identity (its old lead deleted), a deleted lead's
rowid reused by a new lead, activities moving, random sequences of all of these, and stores
migrated from schema 5. Each write of activities stays one statement per page with no second
row write by a trigger.
"""

from __future__ import annotations

import json
import random
import sqlite3
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from leadsync.core.models import Activity, ActivityType, Lead
from leadsync.core.state import activities, leads
from leadsync.core.state.migrations import MIGRATIONS
from leadsync.core.state.store import StateStore
from leadsync.core.sync.identity import ingest

T0 = datetime(2026, 10, 1, tzinfo=UTC)


def _wrong(store: Any) -> list[tuple[Any, ...]]:
    """(source id, lead key, lead_id, the rowid it should be) of every activity whose lead_id is wrong."""
    rows = store.db.execute(
        "SELECT a.source_id, a.lead_key, a.lead_id, l.rowid FROM activities a LEFT JOIN leads l ON l.key = a.lead_key"
    ).fetchall()
    return [tuple(r) for r in rows if r[2] != r[3]]


def _lead_id(store: Any, source_id: str) -> int | None:
    return store.db.execute("SELECT lead_id FROM activities WHERE source_id = ?", (source_id,)).fetchone()[0]


def _rowid(store: Any, key: str) -> int | None:
    row = store.db.execute("SELECT rowid FROM leads WHERE key = ?", (key,)).fetchone()
    return None if row is None else row[0]


def _ingest(store: Any, connection: str, records: list[Any], stream: str = "leads") -> None:
    with store.transaction() as db:
        ingest(db, connection, records, stream=stream, crm_connections={"crm"}, run_id=None)


def _visit(source_id: str, *, email: str | None = None, record_id: str | None = None) -> Activity:
    return Activity(source_id=source_id, email=email, lead_record_id=record_id, type=ActivityType.WEB_VISIT,
                    occurred_at=T0, url="https://example.jp/pricing")


def test_lead_id_follows_leads_through_ingest_merges_moves_and_deletes(new_store) -> None:  # type: ignore[no-untyped-def]
    store = new_store()
    # An activity whose lead is not stored yet: no id; the lead's arrival sets it.
    _ingest(store, "ma", [_visit("v1", email="a@x.jp")], "activities")
    assert _lead_id(store, "v1") is None and _wrong(store) == []
    _ingest(store, "ma", [Lead(email="a@x.jp", refs={"ma": "m1"}, title="部長")])
    assert _lead_id(store, "v1") == _rowid(store, "a@x.jp") is not None
    # The same person in the CRM: the merged lead is rewritten in place, its rowid kept.
    before = _rowid(store, "a@x.jp")
    _ingest(store, "crm", [Lead(email="A@X.jp", refs={"crm": "c1"}, owner="005")])
    assert _rowid(store, "a@x.jp") == before == _lead_id(store, "v1") and _wrong(store) == []
    # A record known by id; its activity is placed by record id, then the record changes e-mail:
    # the view moves to a new lead, the activity named by record id follows it (state/follow.py),
    # and the old lead (no views left) is deleted; an activity naming the old e-mail stays orphaned.
    _ingest(store, "ma", [Lead(email="b@x.jp", refs={"ma": "42"})])
    _ingest(store, "ma", [_visit("v2", record_id="42"), _visit("v3", email="b@x.jp")], "activities")
    assert _lead_id(store, "v2") == _rowid(store, "b@x.jp") == _lead_id(store, "v3") is not None
    _ingest(store, "ma", [Lead(email="c@x.jp", refs={"ma": "42"})])
    assert _rowid(store, "b@x.jp") is None and _lead_id(store, "v3") is None and _wrong(store) == []
    assert _lead_id(store, "v2") == _rowid(store, "c@x.jp") is not None
    # New leads may reuse the deleted lead's rowid: the orphaned activity must not follow it.
    _ingest(store, "crm", [Lead(email=f"new{i}@x.jp", refs={"crm": f"n{i}"}) for i in range(3)])
    assert _lead_id(store, "v3") is None and _wrong(store) == []
    # The activity is read again with the new e-mail: it moves to the new lead.
    _ingest(store, "ma", [_visit("v3", email="c@x.jp")], "activities")
    assert _lead_id(store, "v3") == _rowid(store, "c@x.jp") is not None and _wrong(store) == []
    # The old identity comes back: a new lead, a new rowid, the activity stays where it moved.
    _ingest(store, "crm", [Lead(email="b@x.jp", refs={"crm": "b1"})])
    assert _lead_id(store, "v3") == _rowid(store, "c@x.jp") and _wrong(store) == []


def test_lead_id_is_right_after_random_sequences_of_writes(new_store) -> None:  # type: ignore[no-untyped-def]
    store = new_store()
    rng = random.Random(5)
    keys = [f"k{i}@x.jp" for i in range(12)]
    counter = 0
    for step in range(150):
        op = rng.choice(["lead", "lead", "delete", "activity", "activities", "move", "bulk_leads"])
        with store.transaction() as db:
            if op == "lead":
                leads.put(db, Lead(key=rng.choice(keys), email=None, title=str(step)))
            elif op == "bulk_leads":
                missing = [k for k in rng.sample(keys, 4) if _rowid(store, k) is None]
                leads.put_many(db, [(k, k, "{}", 0.0, 1) for k in missing])
            elif op == "delete":
                leads.delete(db, rng.choice(keys))
            elif op == "activity":
                counter += 1
                activity = Activity(source_id=f"s{counter}", connection="ma", lead_key=rng.choice(keys),
                                    type=ActivityType.EMAIL_OPEN, occurred_at=T0 + timedelta(minutes=step))
                activities.save(db, activity, activity.model_dump_json())
            elif op == "activities":
                rows = []
                for _ in range(rng.randint(1, 5)):
                    counter += 1
                    rows.append(("ma", f"s{counter}", rng.choice(keys), "web_visit", T0.timestamp() + step, None, "{}"))
                activities.put_many(db, rows, ignore_existing=rng.random() < 0.5)
            elif counter:  # an activity already stored is saved again under another lead
                source_id = f"s{rng.randint(1, counter)}"
                moved = Activity(source_id=source_id, connection="ma", lead_key=rng.choice(keys),
                                 type=ActivityType.EMAIL_CLICK, occurred_at=T0)
                activities.save_many(db, [(moved, moved.model_dump_json())])
        assert _wrong(store) == [], f"after step {step} ({op})"
    assert store.db.execute("SELECT count(lead_id) FROM activities").fetchone()[0] > 0


class _Counting:
    """A connection that counts the statements its caller runs (executemany counts once)."""

    def __init__(self, db: Any) -> None:
        self.db = db
        self.statements = 0

    def execute(self, *args: Any, **kwargs: Any) -> Any:
        self.statements += 1
        return self.db.execute(*args, **kwargs)

    def executemany(self, *args: Any, **kwargs: Any) -> Any:
        self.statements += 1
        return self.db.executemany(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.db, name)


def test_a_page_of_activities_is_written_by_the_same_statements_and_each_row_once() -> None:
    """lead_id comes from the insert's own statement: 4 statements for a page (stored JSON, whether
    a copy of any waits for its lead, the upsert, the dirty flags), one row change per activity (no
    trigger rewrites a row)."""
    store = StateStore(":memory:")
    with store.transaction() as db:
        leads.put_many(db, [(f"p{i}@x.jp", f"p{i}@x.jp", "{}", 0.0, 0) for i in range(20)])
    page = [_visit(f"v{i}", email=f"p{i % 25}@x.jp") for i in range(100)]  # 20 leads stored, 5 not
    counting = _Counting(store.db)
    store.db.execute("BEGIN")
    changes = store.db.total_changes
    ingest(counting, "ma", page, stream="activities", crm_connections=set(), run_id=None)  # type: ignore[arg-type]
    assert counting.statements == 4
    assert store.db.total_changes - changes == 100 + 20  # 100 inserts, 20 dirty flags; nothing else
    store.db.execute("COMMIT")
    assert _wrong(store) == []
    assert store.db.execute("SELECT count(*) FROM activities WHERE lead_id IS NULL").fetchone()[0] == 20


def _old_sqlite_store(db: sqlite3.Connection) -> None:
    """Fill a store of schema 5 (before lead_id): leads and activities, one activity without its lead."""
    for key in ("a@x.jp", "b@x.jp", "gone@x.jp"):
        db.execute("INSERT INTO leads(key, email, data, updated_at) VALUES (?, ?, '{}', 0)", (key, key))
    db.execute("DELETE FROM leads WHERE key = 'gone@x.jp'")
    for n, key in enumerate(["b@x.jp", "a@x.jp", "gone@x.jp", "b@x.jp"]):
        db.execute("INSERT INTO activities(connection, source_id, lead_key, type, occurred_at, data) "
                   "VALUES ('ma', ?, ?, 'email_open', 0, '{}')", (f"s{n}", key))
    db.close()


def test_migration_fills_lead_id_of_activities_stored_before(tmp_path, old_sqlite_schema) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "old.db"
    _old_sqlite_store(old_sqlite_schema(path, 5))
    store = StateStore(path)
    assert store.schema_version == len(MIGRATIONS) >= 6
    assert _wrong(store) == []
    ids = dict(store.db.execute("SELECT source_id, lead_id FROM activities").fetchall())
    assert ids == {"s0": 2, "s1": 1, "s2": None, "s3": 2}
    # New leads get the deleted lead's rowid: the orphan stays unlinked until its own lead comes.
    with store.transaction() as db:
        leads.put_many(db, [("c@x.jp", "c@x.jp", "{}", 0.0, 1)])
    assert _wrong(store) == [] and _lead_id(store, "s2") is None
    with store.transaction() as db:
        leads.put_many(db, [("gone@x.jp", "gone@x.jp", "{}", 0.0, 1)])
    assert _lead_id(store, "s2") == _rowid(store, "gone@x.jp") and _wrong(store) == []
    store.close()


@pytest.mark.parametrize("state_backend", ["postgresql"], indirect=True)
def test_postgresql_migration_fills_lead_id_of_activities_stored_before(state_backend) -> None:  # type: ignore[no-untyped-def]
    project = state_backend.project()
    with state_backend.old_pg_schema(project, 5) as db:
        for key in ("a@x.jp", "b@x.jp"):
            db.execute("INSERT INTO leads(key, email, data, updated_at) VALUES (%s, %s, '{}', 0)", (key, key))
        for n, key in enumerate(["b@x.jp", "a@x.jp", "none@x.jp"]):
            db.execute("INSERT INTO activities(connection, source_id, lead_key, type, occurred_at, data) "
                       "VALUES ('ma', %s, %s, 'email_open', 0, %s)", (f"s{n}", key, json.dumps({})))
    store = state_backend.open(project)
    try:
        assert store.schema_version == len(MIGRATIONS)
        assert _wrong(store) == []
        assert _lead_id(store, "s0") == _rowid(store, "b@x.jp") and _lead_id(store, "s2") is None
        with store.transaction() as db:
            leads.put_many(db, [("none@x.jp", "none@x.jp", "{}", 0.0, 1)])
        assert _lead_id(store, "s2") == _rowid(store, "none@x.jp") and _wrong(store) == []
    finally:
        store.close()


def test_a_lead_inserted_after_its_activities_gives_them_its_id_and_source_however_it_is_written(new_store):
    """Migration 9's insert triggers: the saves fill `lead_source` themselves, a writer that leaves it
    out gets it from the JSON, and a lead's earlier calls take its id and its source either way."""
    store = new_store()
    with store.transaction() as db:
        for n, key in enumerate(["saved@x.jp", "bulk@x.jp", "nosource@x.jp"]):
            activities.put(db, Activity(source_id=f"call-{n}", connection="crm", lead_key=key, type=ActivityType.CALL,
                                        occurred_at=T0))
        leads.save(db, "saved@x.jp", "saved@x.jp", json.dumps({"lead_source": "展示会"}), "展示会")
        leads.put_many(db, [("bulk@x.jp", "bulk@x.jp", json.dumps({"lead_source": "Web"}), 0.0, 1),
                            ("nosource@x.jp", "nosource@x.jp", json.dumps({"title": "部長"}), 0.0, 1)])
        leads.save_many(db, [("fresh@x.jp", "fresh@x.jp", json.dumps({"lead_source": "紹介"}), "紹介")])
    assert _wrong(store) == []
    sources = dict(store.db.execute("SELECT key, lead_source FROM leads").fetchall())
    assert sources == {"saved@x.jp": "展示会", "bulk@x.jp": "Web", "nosource@x.jp": None, "fresh@x.jp": "紹介"}
    calls = dict(store.db.execute("SELECT lead_key, lead_source FROM activities").fetchall())
    assert calls == {"saved@x.jp": "展示会", "bulk@x.jp": "Web", "nosource@x.jp": None}

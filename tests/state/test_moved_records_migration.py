"""Stores of schema 11 (before records followed a lead record that changed identity) keep
activities and deals named by a record id only under the lead that record left (it got an e-mail,
or a new one): they counted for the wrong lead, or for none. Upgraded, they wait for the record's
lead, so the next run places them there and rescores both leads."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from leadsync.core.models import Activity, ActivityType, Opportunity
from leadsync.core.state.migrations import MIGRATIONS
from leadsync.core.state import leads
from leadsync.core.state.store import StateStore
from leadsync.core.sync.latecomers import place_waiting

T0 = datetime(2026, 10, 1, tzinfo=UTC)

# (source id, lead record id, the key an older leadsync left it under, e-mail)
OLD_ACTIVITIES = [
    ("A-GONE", "C1", "crm:C1", None),        # C1 got an e-mail: its old lead is gone
    ("A-LEFT", "C2", "old@x.jp", None),      # C2's e-mail changed; the MA still knows old@
    ("A-MAIL", "C2", "old@x.jp", "old@x.jp"),  # named by e-mail: stays
    ("A-HOME", "C3", "home@x.jp", None),     # under its record's lead: stays
    ("A-UNKNOWN", "C9", "crm:C9", None),     # a record not stored: stays
]
LEADS = [("new1@x.jp", "crm", "C1"), ("new2@x.jp", "crm", "C2"), ("old@x.jp", "ma", "M2"), ("home@x.jp", "crm", "C3")]


def _rows() -> tuple[list[tuple], list[tuple]]:
    acts, opps = [], []
    for sid, ref, key, email in OLD_ACTIVITIES:
        activity = Activity(source_id=sid, connection="crm", lead_key=key, email=email, lead_record_id=ref,
                            type=ActivityType.CALL, occurred_at=T0)
        acts.append(("crm", sid, key, "call", T0.timestamp(), activity.model_dump_json()))
        deal = Opportunity(source_id="O" + sid, connection="crm", lead_key=key, email=email, lead_record_id=ref,
                           created_at=T0)
        opps.append(("crm", "O" + sid, key, "open", T0.timestamp(), deal.model_dump_json()))
    return acts, opps


def _check_upgraded(store: Any) -> None:
    waiting = sorted(r[0] for r in store.db.execute("SELECT source_id FROM waiting_activities"))
    assert waiting == ["A-GONE", "A-LEFT"]
    assert sorted(r[0] for r in store.db.execute("SELECT source_id FROM waiting_opportunities")) == ["OA-GONE", "OA-LEFT"]
    assert leads.dirty_keys(store.db) == {"old@x.jp"}
    with store.transaction() as db:  # the next run's step after its pull
        assert place_waiting(db) == 4
    stored = dict(store.db.execute("SELECT source_id, lead_key FROM activities").fetchall())
    assert stored == {"A-GONE": "new1@x.jp", "A-LEFT": "new2@x.jp", "A-MAIL": "old@x.jp", "A-HOME": "home@x.jp",
                      "A-UNKNOWN": "crm:C9"}
    deals = dict(store.db.execute("SELECT source_id, lead_key FROM opportunities").fetchall())
    assert deals == {"O" + sid: key for sid, key in stored.items()}
    assert leads.dirty_keys(store.db) >= {"new1@x.jp", "new2@x.jp"}


def test_migration_makes_records_left_under_a_lead_their_record_left_wait_for_its_lead(tmp_path, old_sqlite_schema):
    path = tmp_path / "old.db"
    db = old_sqlite_schema(path, 11)
    acts, opps = _rows()
    for key, connection, record_id in LEADS:
        db.execute("INSERT INTO leads(key, email, data, updated_at, dirty) VALUES (?, ?, '{}', 0, 0)", (key, key))
        db.execute("INSERT INTO lead_refs(connection, record_id, lead_key, data) VALUES (?, ?, ?, '{}')",
                   (connection, record_id, key))
    db.executemany("INSERT INTO activities(connection, source_id, lead_key, type, occurred_at, data) "
                   "VALUES (?, ?, ?, ?, ?, ?)", acts)
    db.executemany("INSERT INTO opportunities(connection, source_id, lead_key, status, created_at, data) "
                   "VALUES (?, ?, ?, ?, ?, ?)", opps)
    db.close()
    store = StateStore(path)
    try:
        assert store.schema_version == len(MIGRATIONS)
        _check_upgraded(store)
    finally:
        store.close()


@pytest.mark.parametrize("state_backend", ["postgresql"], indirect=True)
def test_postgresql_migration_makes_records_left_under_a_lead_their_record_left_wait(state_backend) -> None:
    project = state_backend.project()
    acts, opps = _rows()
    with state_backend.old_pg_schema(project, 11) as db:
        for key, connection, record_id in LEADS:
            db.execute("INSERT INTO leads(key, email, data, updated_at, dirty) VALUES (%s, %s, '{}', 0, 0)", (key, key))
            db.execute("INSERT INTO lead_refs(connection, record_id, lead_key, data) VALUES (%s, %s, %s, '{}')",
                       (connection, record_id, key))
        db.cursor().executemany("INSERT INTO activities(connection, source_id, lead_key, type, occurred_at, data) "
                                "VALUES (%s, %s, %s, %s, %s, %s)", acts)
        db.cursor().executemany("INSERT INTO opportunities(connection, source_id, lead_key, status, created_at, data) "
                                "VALUES (%s, %s, %s, %s, %s, %s)", opps)
    store = state_backend.open(project)
    try:
        assert store.schema_version == len(MIGRATIONS)
        _check_upgraded(store)
    finally:
        store.close()

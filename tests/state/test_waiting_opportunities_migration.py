"""Stores of schema 9 (before opportunities waited for their lead) keep opportunities an older
leadsync filed under a guessed key `<connection>:<lead record id>` that no stored lead has: the
KPI reports counted them for no real lead, and a re-read that finds the file unchanged never
comes. Upgraded, they wait for their lead as a fresh read would have them wait."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import pytest

from leadsync.core.models import Lead, Opportunity
from leadsync.core.state.migrations import MIGRATIONS
from leadsync.core.state.store import StateStore
from leadsync.core.sync.identity import ingest
from leadsync.core.sync.latecomers import expire_waiting, place_waiting

T0 = datetime(2026, 10, 1, tzinfo=UTC)


def _opportunity(source_id: str, record_id: str | None, lead_key: str, email: str | None = None) -> Opportunity:
    return Opportunity(source_id=source_id, connection="file", lead_key=lead_key, email=email,
                       lead_record_id=record_id, created_at=T0)


# (source id, lead record id, the key an older leadsync filed it under, e-mail)
OLD_ROWS = [
    ("O-LATE", "L-LATE", "file:L-LATE", None),      # its lead comes after the upgrade
    ("O-CAME", "L-CAME", "file:L-CAME", None),      # its lead came after it was filed, the file never re-read
    ("O-NEVER", "L-NEVER", "file:L-NEVER", None),   # its lead never comes
    ("O-KNOWN", "L-KNOWN", "known@x.jp", None),     # filed under its stored lead: stays
    ("O-MAIL", None, "mail@x.jp", "mail@x.jp"),     # named by e-mail: stays
    ("O-NOREF", "L-NOREF", "file:L-NOREF", None),   # a lead without e-mail, stored under that key: stays
]


def _old_rows() -> list[tuple[str, str, str, str, float, str]]:
    return [("file", sid, key, "open", T0.timestamp(), _opportunity(sid, ref, key, email).model_dump_json())
            for sid, ref, key, email in OLD_ROWS]


def _leads() -> list[tuple[str, str, str | None]]:
    return [("known@x.jp", "L-KNOWN", "known@x.jp"), ("came@x.jp", "L-CAME", "came@x.jp"),
            ("file:L-NOREF", "L-NOREF", None)]


def _check_upgraded(store: Any) -> None:
    stored = dict(store.db.execute("SELECT source_id, lead_key FROM opportunities").fetchall())
    assert stored == {"O-KNOWN": "known@x.jp", "O-MAIL": "mail@x.jp", "O-NOREF": "file:L-NOREF"}
    assert sorted(r[0] for r in store.db.execute("SELECT source_id FROM waiting_opportunities")) == [
        "O-CAME", "O-LATE", "O-NEVER"]
    run = store.db.execute("SELECT COALESCE(MAX(id), 0) FROM runs").fetchone()[0]
    with store.transaction() as db:  # the next run: the lead stored since is found, the others wait
        ingest(db, "file", [Lead(key="late@x.jp", email="late@x.jp", refs={"file": "L-LATE"})], stream="leads",
               crm_connections=set(), run_id=run + 1)
        assert place_waiting(db) == 2
        # The engine's horizon: the previous run's start (0 here) less the look-back. Kept since: it waits.
        assert expire_waiting(db, ["file"], run + 1, kept_before=0.0 - 600) == 0
    stored = dict(store.db.execute("SELECT source_id, lead_key FROM opportunities").fetchall())
    assert (stored["O-LATE"], stored["O-CAME"]) == ("late@x.jp", "came@x.jp") and "O-NEVER" not in stored
    with store.transaction() as db:  # a run after that, its reads done: a dead letter
        assert expire_waiting(db, ["file"], run + 2, kept_before=time.time() + 1) == 1
    assert [tuple(r) for r in store.db.execute("SELECT kind, record_key FROM dead_letters")] == [
        ("opportunities", "O-NEVER")]


def test_migration_makes_opportunities_filed_under_a_guessed_key_wait_for_their_lead(tmp_path,
                                                                                     old_sqlite_schema) -> None:
    path = tmp_path / "old.db"
    db = old_sqlite_schema(path, 9)
    db.execute("INSERT INTO runs(started_at, status) VALUES (0, 'ok')")
    for key, record_id, email in _leads():
        db.execute("INSERT INTO leads(key, email, data, updated_at) VALUES (?, ?, '{}', 0)", (key, email))
        db.execute("INSERT INTO lead_refs(connection, record_id, lead_key, data) VALUES ('file', ?, ?, '{}')",
                   (record_id, key))
    db.executemany("INSERT INTO opportunities(connection, source_id, lead_key, status, created_at, data) "
                   "VALUES (?, ?, ?, ?, ?, ?)", _old_rows())
    db.close()
    store = StateStore(path)
    try:
        assert store.schema_version == len(MIGRATIONS)
        _check_upgraded(store)
    finally:
        store.close()


@pytest.mark.parametrize("state_backend", ["postgresql"], indirect=True)
def test_postgresql_migration_makes_opportunities_filed_under_a_guessed_key_wait(state_backend) -> None:
    project = state_backend.project()
    with state_backend.old_pg_schema(project, 9) as db:
        db.execute("INSERT INTO runs(started_at, status) VALUES (0, 'ok')")
        for key, record_id, email in _leads():
            db.execute("INSERT INTO leads(key, email, data, updated_at) VALUES (%s, %s, '{}', 0)", (key, email))
            db.execute("INSERT INTO lead_refs(connection, record_id, lead_key, data) VALUES ('file', %s, %s, '{}')",
                       (record_id, key))
        db.cursor().executemany("INSERT INTO opportunities(connection, source_id, lead_key, status, created_at, data) "
                                "VALUES (%s, %s, %s, %s, %s, %s)", _old_rows())
    store = state_backend.open(project)
    try:
        assert store.schema_version == len(MIGRATIONS)
        _check_upgraded(store)
    finally:
        store.close()

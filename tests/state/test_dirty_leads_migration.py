"""Migration 13: leads to rescore become rows of `dirty_leads` (the lead row's flag and its index are
no longer used), and on SQLite the activities' lead index covers what a rescore of some leads reads."""

from __future__ import annotations

from typing import Any

import pytest

from leadsync.core.scoring.batch import TYPE_CODES
from leadsync.core.state import activities, leads
from leadsync.core.state.migrations import MIGRATIONS
from leadsync.core.state.store import StateStore

# (key, dirty) as a store of schema 12 held them
OLD = [("clean@x.jp", 0), ("dirty1@x.jp", 1), ("dirty2@x.jp", 1)]


def _check(store: Any) -> None:
    assert store.schema_version == len(MIGRATIONS)
    assert leads.dirty_keys(store.db) == {"dirty1@x.jp", "dirty2@x.jp"}
    assert leads.count(store.db) == 3
    with store.transaction() as db:  # marking and clearing work on the new table
        leads.mark_dirty_many(db, ["clean@x.jp", "not-stored@x.jp"])
        leads.clear_dirty(db, ["dirty1@x.jp"])
    assert leads.dirty_keys(store.db) == {"clean@x.jp", "dirty2@x.jp"}, "a key no lead has is never marked"
    with store.transaction() as db:
        leads.delete(db, "dirty2@x.jp")
    assert leads.dirty_keys(store.db) == {"clean@x.jp"}, "a deleted lead leaves no mark behind"


def test_sqlite_migration_moves_the_flags_and_drops_their_index(tmp_path, old_sqlite_schema) -> None:
    path = tmp_path / "old.db"
    db = old_sqlite_schema(path, 12)
    db.executemany("INSERT INTO leads(key, email, data, updated_at, dirty) VALUES (?, ?, '{}', 0, ?)",
                   [(key, key, dirty) for key, dirty in OLD])
    db.close()
    store = StateStore(path)
    try:
        assert store.db.execute("SELECT count(*) FROM sqlite_master WHERE name = 'leads_dirty'").fetchone()[0] == 0
        index = store.db.execute("SELECT sql FROM sqlite_master WHERE name = 'activities_lead'").fetchone()[0]
        assert "source_id" in index and "url" in index
        _check(store)
    finally:
        store.close()


@pytest.mark.parametrize("state_backend", ["postgresql"], indirect=True)
def test_postgresql_migration_moves_the_flags_and_drops_their_index(state_backend) -> None:
    project = state_backend.project()
    with state_backend.old_pg_schema(project, 12) as db:
        for key, dirty in OLD:
            db.execute("INSERT INTO leads(key, email, data, updated_at, dirty) VALUES (%s, %s, '{}', 0, %s)",
                       (key, key, dirty))
    store = state_backend.open(project)
    try:
        assert store.db.execute("SELECT count(*) FROM pg_indexes WHERE schemaname = current_schema() "
                                "AND indexname = 'leads_dirty'").fetchone()[0] == 0
        _check(store)
    finally:
        store.close()


def test_a_rescore_of_some_leads_reads_their_activities_from_the_index_alone() -> None:
    """The read of a few leads' activities is answered by the index (no table page per activity)."""
    store = StateStore(":memory:")
    seen: list[str] = []
    store.db.set_trace_callback(seen.append)
    assert list(activities.scan(store.db, type_codes=TYPE_CODES, url_types=["web_visit"], since=0.0,
                                keys=["a@x.jp"], chunk=10)) == []
    store.db.set_trace_callback(None)
    (sql,) = [s for s in seen if "FROM activities" in s]
    plan = " ".join(str(r[3]) for r in store.db.execute("EXPLAIN QUERY PLAN " + sql))
    assert "COVERING INDEX activities_lead" in plan, plan
    store.close()

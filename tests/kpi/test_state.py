"""The KPI columns stay in step with the stored JSON: on insert, on update, and for rows stored before."""

from __future__ import annotations

import json

import pytest

from leadsync.core.state.kpi import CallRules, stage_counts
from leadsync.core.state.migrations import MIGRATIONS
from leadsync.core.state.store import StateStore

from .conftest import at, call, store_records  # noqa: F401


def _calls(store: StateStore) -> dict:
    return stage_counts(store.db, at("2025-04-01 00:00").timestamp(), at("2025-05-01 00:00").timestamp(),
                        CallRules()).get("", {})


def test_a_changed_call_is_counted_as_it_is_now(new_store):
    store = new_store()
    store_records(store, [call(1, "a@x.example", "2025-04-07 09:10", 0, "no_answer")])
    assert _calls(store)["connects"] == 0
    store_records(store, [call(1, "a@x.example", "2025-04-07 09:10", 150, "conversation", owner="tanaka")])
    counts = _calls(store)
    assert (counts["calls"], counts["connects"], counts["conversations"]) == (1, 1, 1)
    assert stage_counts(store.db, 0, 2e9, CallRules(), "owner").keys() == {"tanaka"}


def test_migration_fills_the_columns_of_calls_stored_before(tmp_path, old_sqlite_schema):
    path = tmp_path / "old.db"
    db = old_sqlite_schema(path, 3)  # a store of the release before the KPIs
    data = {"source_id": "c1", "type": "call", "duration_seconds": 130, "outcome": "connected", "owner": "sato",
            "lead_key": "a@x.example", "connection": "crm", "occurred_at": "2025-04-07T09:10:00+09:00"}
    db.execute("INSERT INTO activities VALUES ('crm', 'c1', 'a@x.example', 'call', ?, NULL, ?)",
               (at("2025-04-07 09:10").timestamp(), json.dumps(data)))
    db.execute("INSERT INTO leads VALUES ('a@x.example', 'a@x.example', ?, 0, 0)", (json.dumps({"lead_source": "展示会"}),))
    db.close()
    store = StateStore(path)
    assert store.schema_version == len(MIGRATIONS)
    counts = _calls(store)
    assert (counts["calls"], counts["connects"], counts["conversations"], counts["reps"]) == (1, 1, 1, 1)
    assert stage_counts(store.db, 0, 2e9, CallRules(), "source").keys() == {"展示会"}


def test_a_calls_lead_source_follows_the_lead(new_store):
    from leadsync.core.models import Lead

    store = new_store()
    store_records(store, [call(1, "a@x.example", "2025-04-07 09:10", 30)])  # the call comes before its lead
    by_source = lambda: stage_counts(store.db, 0, 2e9, CallRules(), "source")  # noqa: E731
    assert set(by_source()) == {""}
    store_records(store, [Lead(email="a@x.example", refs={"crm": "1"}, lead_source="展示会")])
    assert by_source()["trade_show"]["calls"] == 1  # the canonical code of the lead source
    store_records(store, [Lead(email="a@x.example", refs={"crm": "1"}, lead_source="セミナー")])
    assert set(by_source()) == {"seminar"} and by_source()["seminar"]["connects"] == 1


def test_sources_stored_in_other_spellings_are_one_group_under_the_code(new_store):
    """Leads stored before the source vocabulary keep '展示会' or 'Trade Show' in their JSON: the
    funnel by source still shows one trade-show group, keyed by its code and labelled."""
    from datetime import date

    from leadsync.core.config import Settings
    from leadsync.core.reports.kpi import build_funnel
    from leadsync.core.reports.periods import Period
    from leadsync.core.state import leads

    store = new_store()
    with store.transaction() as db:
        leads.put_many(db, [(f"{n}@x.example", f"{n}@x.example", json.dumps({"lead_source": source}), 0, 0)
                            for n, source in enumerate(["展示会", "Trade Show", "trade_show", "どこか"])])
    store_records(store, [call(n, f"{n}@x.example", "2025-04-07 09:10", 130, owner="sato") for n in range(4)])
    data = build_funnel(store, Settings(), Period(date(2025, 4, 1), date(2025, 4, 30), "Asia/Tokyo"), "source")
    groups = {g["key"]: g for g in data["groups"]}
    assert set(groups) == {"trade_show", "どこか"}
    assert groups["trade_show"]["stages"]["calls"] == 3 and groups["trade_show"]["label"] == "展示会"
    assert groups["どこか"]["label"] == "どこか" and groups["どこか"]["benchmark"] is None


@pytest.mark.parametrize("state_backend", ["postgresql"], indirect=True)
def test_postgresql_migration_fills_the_columns_of_calls_stored_before(state_backend):
    project = state_backend.project()
    with state_backend.old_pg_schema(project, 3) as db:  # the release before the KPIs
        data = {"source_id": "c1", "type": "call", "duration_seconds": 130, "outcome": "connected", "owner": "sato"}
        db.execute("INSERT INTO activities(connection, source_id, lead_key, type, occurred_at, url, data) "
                   "VALUES ('crm', 'c1', 'a@x.example', 'call', %s, NULL, %s)",
                   (at("2025-04-07 09:10").timestamp(), json.dumps(data)))
        db.execute("INSERT INTO leads(key, email, data, updated_at, dirty) VALUES ('a@x.example', 'a@x.example', %s, 0, 0)",
                   (json.dumps({"lead_source": "展示会"}),))
    store = state_backend.open(project)
    try:
        assert store.schema_version == len(MIGRATIONS)
        counts = _calls(store)
        assert (counts["calls"], counts["connects"], counts["conversations"], counts["reps"]) == (1, 1, 1, 1)
        assert stage_counts(store.db, 0, 2e9, CallRules(), "source").keys() == {"展示会"}
    finally:
        store.close()
